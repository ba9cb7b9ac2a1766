import pytest
from rest_framework.test import APIClient

from loyalty.services import enrol_member
from loyalty.services.storefronts import create_api_key


def client_for(storefront: str) -> APIClient:
    _, key = create_api_key(storefront_name=storefront)
    client = APIClient(HTTP_HOST="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def api(db) -> APIClient:
    return client_for("web shop")


@pytest.fixture
def other_api(db) -> APIClient:
    return client_for("pos")


@pytest.fixture
def alice(db):
    return enrol_member(external_id="alice", name="Alice")


def post_event(api, **body):
    return api.post("/api/v1/events/", body, format="json")


def error_code(response) -> str:
    return response.json()["error"]["code"]
