import pytest

from loyalty.services.jobs import run_job_now
from rewards.models import Benefit, CouponTemplate, Reward

from .factories import BenefitFactory, CodePoolFactory, CouponTemplateFactory, RewardFactory


@pytest.fixture
def program(program):
    """The default program without migration 0002's catalog: each test builds the catalog it needs."""
    Benefit.objects.all().delete()
    Reward.objects.all().delete()
    CouponTemplate.objects.all().delete()
    return program


@pytest.fixture
def make_template(program):
    return CouponTemplateFactory


@pytest.fixture
def make_reward(program):
    return RewardFactory


@pytest.fixture
def make_pool(program):
    return CodePoolFactory


@pytest.fixture
def make_benefit(program):
    return BenefitFactory


@pytest.fixture
def run_job(program):
    """run_job("issue_benefits", as_of) -> the finished JobRun (in this process, chunk after chunk)."""

    def run(job: str, as_of):
        return run_job_now(job=job, as_of=as_of)

    return run
