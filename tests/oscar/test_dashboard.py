"""Training, versions and retraining from Oscar's dashboard, and `manage.py check` on the host."""

from __future__ import annotations

import io

from django.core.management import call_command

from shopguide.models import TrainingRun

PAGE = "/dashboard/shopguide/"


def test_the_installation_passes_manage_py_check(db):
    out = io.StringIO()
    call_command("check", "--database", "default", stdout=out)  # pgvector too
    assert "no issues" in out.getvalue()


def test_oscars_dashboard_menu_links_to_training(client, staff, customer):
    client.force_login(staff)
    dashboard = client.get("/dashboard/")
    assert dashboard.status_code == 200
    html = dashboard.content.decode()
    assert "Recommendations" in html and f'href="{PAGE}"' in html
    client.force_login(customer)
    assert client.get(PAGE).status_code == 302  # not staff: to the login page


def test_the_training_page_queues_a_run_and_reports_it(client, staff, django_capture_on_commit_callbacks):
    client.force_login(staff)
    page = client.get(PAGE)
    assert page.status_code == 200 and "No training run yet." in page.content.decode()
    assert "Retrain now" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PAGE, {"action": "retrain"}, follow=True)
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.QUEUED and run.task_id and run.requested_by == staff
    assert f"Training run {run.pk} queued" in response.content.decode()
    assert f"<td>{run.pk}</td><td>queued</td>" in response.content.decode()  # the runs table

    response = client.post(PAGE, {"action": "rollback"}, follow=True)
    assert "no earlier version" in response.content.decode()
    response = client.post(PAGE, {"action": "explode"}, follow=True)
    assert response.status_code == 200 and "Unknown action" in response.content.decode()


def test_staff_without_the_retrain_permission_cannot_retrain(client, staff):
    from django.contrib.auth.models import Permission

    staff.user_permissions.remove(Permission.objects.get(codename="retrain"))
    client.force_login(staff)
    assert "Retrain now" not in client.get(PAGE).content.decode()
    response = client.post(PAGE, {"action": "retrain"}, follow=True)
    assert "needs the" in response.content.decode() and not TrainingRun.objects.exists()


def test_the_oscar_hosts_start_up_does_not_import_torch():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django, sys; django.setup(); from django.urls import get_resolver; get_resolver().url_patterns; "
        "import shopguide.contrib.oscar.views, shopguide.contrib.oscar.history; print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.oscar.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_readme_installation_is_what_this_host_runs_and_fits_in_15_lines():
    """The README's "django-oscar" settings and URLs, line by line, are the host's (only the
    broker URL and the recommendations count differ: no broker runs here)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## django-oscar") :]
    settings_block, urls_block = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    lines = [
        line.split("  #")[0].strip()
        for block in (settings_block, urls_block)
        for line in block.splitlines()
        if line.strip()
    ]
    assert len(lines) <= 15
    host = (root / "tests/oscar/settings.py").read_text() + (root / "tests/oscar/urls.py").read_text()
    for line in lines:
        if not line.startswith(("CELERY_BROKER_URL", "SHOPGUIDE = {")):
            assert line in host, line


def test_check_names_a_product_model_that_is_not_oscars(settings):
    from shopguide.contrib.oscar.checks import check_oscar_integration

    assert check_oscar_integration() == []
    settings.SHOPGUIDE_PRODUCT_MODEL = "auth.User"
    errors = check_oscar_integration()
    assert [e.id for e in errors] == ["shopguide.E052"] and "catalogue.Product" in errors[0].hint
