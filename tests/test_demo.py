"""The demo as a newcomer meets it: `manage.py demo` tells one consistent story (every entry that
names a reward has its redemption, made through the redemption service against the catalog), and
the API guide's curl examples run in order against it."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command

from loyalty.models import PointsEntry
from loyalty.reason_codes import ORDER_PAYMENT, REDEEMED
from members.models import DomainEvent
from rewards.models import Redemption, Reward
from tests.helpers import ensure_default_program, ensure_staff_roles
from webhooks import catalogue

pytestmark = pytest.mark.django_db(transaction=True)

API_GUIDE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
# Each curl of an example writes its answer's body to a numbered file and its status line to stdout.
CURL_WRAPPER = """
set -eu
curl() {
    n=$(( $(ls "$ANSWERS" | wc -l) + 1 ))
    command curl -sS -o "$ANSWERS/$n" -w '%{http_code} %{method} %{url_effective}\\n' "$@"
}
"""


@pytest.fixture
def demo() -> str:
    """`manage.py demo --no-server` on a fresh database: what it printed."""
    ensure_default_program()
    ensure_staff_roles()
    out = io.StringIO()
    call_command("demo", members=120, seed=3, no_server=True, stdout=out)
    return out.getvalue()


def test_every_entry_naming_a_reward_has_its_redemption(demo):
    redemptions = Redemption.objects.select_related("spend", "reward")
    assert redemptions.count() >= 12, demo
    for redemption in redemptions:
        assert redemption.spend.reason_code == REDEEMED
        assert redemption.spend.reason_params["reward"] == redemption.reward.name
    naming_a_reward = PointsEntry.objects.filter(reason_code=REDEEMED)
    assert not naming_a_reward.exclude(pk__in=Redemption.objects.values("spend")).exists()
    catalog = set(Reward.objects.values_list("name", flat=True))
    spends = PointsEntry.objects.filter(kind=PointsEntry.Kind.SPEND)
    assert set(spends.values_list("reason_code", flat=True)) <= {REDEEMED, ORDER_PAYMENT}
    other_spends = spends.exclude(reason_code=REDEEMED).values_list("reason", flat=True)
    assert not [text for text in other_spends if any(name in text for name in catalog)]
    shipped = Redemption.objects.filter(status__in=["shipped", "delivered"])
    assert shipped.exists()
    assert not shipped.filter(carrier="").exists() and not shipped.filter(tracking_number="").exists()


def test_the_api_guides_examples_run_in_order_against_the_demo(demo, live_server, tmp_path):
    key = re.search(r"API key:\s+(\S+)", demo).group(1)
    variables = {"HOST": live_server.url, "KEY": key}
    answers = tmp_path / "answers"
    answers.mkdir()
    examples = [block for block in re.findall(r"```sh\n(.*?)```", API_GUIDE.read_text(), re.S) if "curl" in block]
    assert len(examples) >= 15

    for example in examples:
        done = len(list(answers.iterdir()))
        # The guide's `export HOST=... KEY=...` are for a reader; the test sets them to its server.
        commands = "\n".join(line for line in example.splitlines() if not line.startswith("export "))
        shell = subprocess.run(
            ["bash", "-c", CURL_WRAPPER + commands],
            env={"PATH": "/usr/bin:/bin", "ANSWERS": str(answers), **variables},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shell.returncode == 0, (example, shell.stderr)
        for number, line in enumerate(shell.stdout.splitlines(), start=done + 1):
            status, method, url = line.split(" ", 2)
            body = json.loads((answers / str(number)).read_text())
            assert status in ("200", "201"), (method, url, body)
            variables.update(_ids_from(method, url, body))

    assert {"REDEMPTION", "COUPON", "HOLD"} <= variables.keys(), "the examples that give the ids ran"
    redemption = Redemption.objects.get(pk=variables["REDEMPTION"])
    assert (redemption.member.external_id, redemption.status) == ("u-10086", Redemption.Status.CANCELLED)
    assert redemption.member.referrer.external_id == "u-42"

    # Every domain event the demo and the guide's requests published is what the webhooks'
    # catalogue (docs/webhooks.md) tells receivers to expect.
    published = {event.type for event in DomainEvent.objects.all()}
    for event in DomainEvent.objects.all():
        jsonschema.validate(event.payload, catalogue.DATA[event.type])
    assert len(published) >= 20, sorted(published)


def _ids_from(method: str, url: str, body: dict) -> dict[str, str]:
    """The shell variables the guide's later examples take from this answer."""
    if method == "POST" and url.endswith("/api/v1/redemptions/"):
        return {"REDEMPTION": str(body["id"]), "COUPON": body["coupons"][0]["code"]}
    if method == "POST" and url.endswith("/points/holds/"):
        return {"HOLD": str(body["id"])}
    return {}
