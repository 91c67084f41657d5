"""The admin pages: every shopguide model lists and opens (vector fields never break a form),
retraining is only enqueued, versions can be activated and rolled back."""

import pytest
from django.urls import reverse

from shopguide.models import Interaction, ModelVersion, ProductVector, TrainingRun, UserVector
from shopguide.services.training import request_training, run_training
from tests.factories import make_articles
from tests.testapp.models import Customer


@pytest.fixture
def staff_client(client, db):
    admin = Customer.objects.create_superuser("admin@example.com", "pw")
    client.force_login(admin)
    client.admin = admin
    return client


@pytest.fixture
def trained(db):
    make_articles(12)
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    return run


@pytest.mark.parametrize("model", [Interaction, ModelVersion, ProductVector, TrainingRun, UserVector])
def test_changelists_open(staff_client, trained, model):
    url = reverse(f"admin:shopguide_{model._meta.model_name}_changelist")
    assert staff_client.get(url).status_code == 200


def test_vector_and_version_pages_open_without_vector_form_fields(staff_client, trained):
    vector = ProductVector.objects.first()
    UserVector.objects.create(version=trained.version, user=staff_client.admin, embedding=[0.1] * 16)
    for obj in (vector, UserVector.objects.get(), trained.version, trained):
        url = reverse(f"admin:shopguide_{obj._meta.model_name}_change", args=[obj.pk])
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert 'name="embedding"' not in response.content.decode()
    assert "16" in staff_client.get(reverse("admin:shopguide_productvector_change", args=[vector.pk])).content.decode()


def test_retrain_button_only_enqueues(staff_client, db, django_capture_on_commit_callbacks):
    changelist = reverse("admin:shopguide_trainingrun_changelist")
    assert "Retrain now" in staff_client.get(changelist).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:shopguide_trainingrun_retrain"))
    assert response.status_code == 302
    run = TrainingRun.objects.get()
    assert run.status == "queued" and run.requested_by == staff_client.admin and run.task_id


def test_retrain_needs_post(staff_client, db):
    staff_client.get(reverse("admin:shopguide_trainingrun_retrain"))
    assert not TrainingRun.objects.exists()


def test_activate_and_rollback_actions(staff_client, trained):
    second = run_training(request_training().pk).version
    url = reverse("admin:shopguide_modelversion_changelist")
    staff_client.post(url, {"action": "rollback", "_selected_action": [second.pk]})
    assert ModelVersion.objects.get(is_active=True) == trained.version
    staff_client.post(url, {"action": "activate_selected", "_selected_action": [second.pk]})
    assert ModelVersion.objects.get(is_active=True) == second


def test_retraining_needs_the_dedicated_permission(client, db):
    from django.contrib.auth.models import Permission

    staff = Customer.objects.create_user("staff@example.com", "pw", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_trainingrun", "change_trainingrun"]))
    client.force_login(staff)
    changelist = reverse("admin:shopguide_trainingrun_changelist")
    assert "Retrain now" not in client.get(changelist).content.decode()
    client.post(reverse("admin:shopguide_trainingrun_retrain"))
    assert not TrainingRun.objects.exists()

    staff.user_permissions.add(Permission.objects.get(codename="retrain"))
    staff = Customer.objects.get(pk=staff.pk)  # drop the permission cache
    client.force_login(staff)
    assert "Retrain now" in client.get(changelist).content.decode()


def test_cancel_action(staff_client, db):
    run = request_training()
    url = reverse("admin:shopguide_trainingrun_changelist")
    staff_client.post(url, {"action": "cancel_selected", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_segment_admin_pages(staff_client, db):
    from shopguide.models import Segment

    segment = Segment.objects.create(name="Bag lovers", slug="bag-lovers")
    assert staff_client.get(reverse("admin:shopguide_segment_change", args=[segment.pk])).status_code == 200
    assert staff_client.get(reverse("admin:shopguide_segmentscore_changelist")).status_code == 200


def test_version_page_shows_evaluation_loss_curves_and_embedding_map(staff_client, db):
    from tests.factories import make_history

    make_history(make_articles(30), n_users=12)
    run = run_training(request_training().pk)
    html = staff_client.get(reverse("admin:shopguide_modelversion_change", args=[run.version.pk])).content.decode()
    assert html.count("data:image/png;base64,") == 2
    for name in (
        "behaviour · lstm",
        "behaviour · popularity",
        "behaviour · item_knn",
        "behaviour · markov",
        "image · raw pixels",
    ):
        assert name in html
    # Held-out figures come with their interval and sample size, and the decision in words.
    assert "95% interval" in html and "held-out n" in html
    assert "no version was serving" in html and "image backbone" in html
