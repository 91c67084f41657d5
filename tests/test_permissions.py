"""Who may do what: every API endpoint and admin action for anonymous visitors, a customer,
another customer, staff without permissions and staff with shopguide's (retrain,
view_customer); CSRF on session writes; throttling of events and search."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from shopguide.models import Interaction, ModelVersion, TrainingRun
from shopguide.services.training import request_training, run_training
from tests.factories import make_articles, make_history, pattern_png
from tests.testapp.models import Customer

API = "/api/shopguide/"
ROLES = ("anonymous", "customer", "other customer", "staff", "staff with permissions")


@pytest.fixture
def shop(db):
    articles = make_articles(12)
    customers = make_history(articles, n_users=4, per_user=3)
    assert run_training(request_training().pk).status == "succeeded"
    staff = Customer.objects.create_user("staff@example.com", "pw", is_staff=True)
    views = Permission.objects.filter(codename__in=["view_trainingrun", "view_modelversion"])
    staff.user_permissions.add(*views)
    trainer = Customer.objects.create_user("trainer@example.com", "pw", is_staff=True)
    trainer.user_permissions.add(
        *views,
        *Permission.objects.filter(content_type__app_label="shopguide", codename__in=["retrain", "view_customer"]),
    )
    return {"customer": customers[0], "other customer": customers[1], "staff": staff, "staff with permissions": trainer}


def client_for(shop, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(shop[role])
    return client


def image_upload() -> io.BytesIO:
    file = io.BytesIO(pattern_png(1, seed=77))
    file.name = "photo.png"
    return file


# Expected status per role: anonymous, customer, other customer, staff, staff with permissions.
# Being staff alone reads no other customer's data: that takes shopguide.view_customer.
API_MATRIX = [
    ("GET", "products/A-0001/related/", {}, (200, 200, 200, 200, 200)),
    ("GET", "recommendations/", {}, (200, 200, 200, 200, 200)),
    ("GET", "recommendations/", {"user": "shopper0@example.com"}, (403, 200, 403, 403, 200)),
    ("GET", "trending/", {}, (200, 200, 200, 200, 200)),
    ("GET", "search/", {"q": "stripes"}, (200, 200, 200, 200, 200)),
    ("POST", "search/image/", "image", (200, 200, 200, 200, 200)),
    ("GET", "profiles/me/", {}, (403, 200, 200, 200, 200)),
    ("GET", "profiles/shopper0@example.com/", {}, (403, 200, 403, 403, 200)),
    ("POST", "events/", {"type": "view", "product": "A-0002"}, (201, 201, 201, 201, 201)),
    ("GET", "schema/", {}, (200, 200, 200, 200, 200)),
]


@pytest.mark.parametrize(
    "method, path, data, expected",
    API_MATRIX,
    ids=[f"{m} {p} {d if d != 'image' else ''}" for m, p, d, _ in API_MATRIX],
)
def test_api_permission_matrix(shop, method, path, data, expected):
    for role, status in zip(ROLES, expected):
        client = client_for(shop, role)
        if method == "GET":
            response = client.get(API + path, data)
        elif data == "image":
            response = client.post(API + path, {"image": image_upload()})
        else:
            response = client.post(API + path, data, content_type="application/json")
        assert response.status_code == status, f"{role}: {response.status_code} {response.content[:200]}"


def test_profiles_do_not_leak_through_other_endpoints(shop):
    client = client_for(shop, "other customer")
    target = shop["customer"].email
    for path, params in [("recommendations/", {"user": target}), ("profiles/" + target + "/", {})]:
        response = client.get(API + path, params)
        assert response.status_code == 403 and target not in response.content.decode()


# -- admin ------------------------------------------------------------------------------------------


def test_admin_retrain_matrix(shop, django_capture_on_commit_callbacks):
    url = reverse("admin:shopguide_trainingrun_retrain")
    for role in ROLES:
        before = TrainingRun.objects.count()
        with django_capture_on_commit_callbacks(execute=False):
            response = client_for(shop, role).post(url)
        started = TrainingRun.objects.count() - before
        if role in ("anonymous", "customer", "other customer"):
            assert response.status_code == 302 and "/login/" in response["Location"], role
        assert started == (1 if role == "staff with permissions" else 0), role


@pytest.mark.parametrize("action", ["rollback", "activate_selected"])
def test_admin_version_actions_need_the_retrain_permission(shop, action):
    first = ModelVersion.objects.get(is_active=True)
    second = run_training(request_training(options={"force": True}).pk).version
    url = reverse("admin:shopguide_modelversion_changelist")
    target = second if action == "rollback" else first
    for role in ROLES:
        active = ModelVersion.objects.get(is_active=True)
        client_for(shop, role).post(url, {"action": action, "_selected_action": [target.pk]})
        changed = ModelVersion.objects.get(is_active=True) != active
        assert changed == (role == "staff with permissions"), role


def test_admin_cancel_needs_the_retrain_permission(shop):
    url = reverse("admin:shopguide_trainingrun_changelist")
    for role in ROLES:
        run = request_training()
        client_for(shop, role).post(url, {"action": "cancel_selected", "_selected_action": [run.pk]})
        run.refresh_from_db()
        assert (run.status == "cancelled") == (role == "staff with permissions"), role
        run.delete()


# -- CSRF and throttling --------------------------------------------------------------------------------


def test_session_writes_need_the_csrf_token(shop):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop["customer"])
    event = {"type": "view", "product": "A-0003"}
    refused = client.post(API + "events/", event, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get(reverse("admin:login"))  # any page that sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(API + "events/", event, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(shop["staff with permissions"])
    assert staff.post(reverse("admin:shopguide_trainingrun_retrain")).status_code == 403


def test_events_are_throttled_and_nothing_is_stored_beyond_the_limit(shop, settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "THROTTLE_RATES": {"events": "5/minute"}}
    client = client_for(shop, "customer")
    before = Interaction.objects.count()
    codes = [
        client.post(API + "events/", {"type": "view", "product": "A-0004"}, content_type="application/json").status_code
        for _ in range(7)
    ]
    assert codes == [201] * 5 + [429] * 2
    assert Interaction.objects.count() == before + 5
    # Limits are per client: another customer is not affected.
    other = client_for(shop, "other customer")
    assert (
        other.post(API + "events/", {"type": "view", "product": "A-0004"}, content_type="application/json").status_code
        == 201
    )
