"""Import boundaries that keep shopguide light and its ML code reusable."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, **env},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_ml_package_imports_no_django_celery_or_drf():
    out = run_python(
        "import pkgutil, importlib, sys, shopguide.ml as ml\n"
        "names = [m.name for m in pkgutil.iter_modules(ml.__path__)]\n"
        "assert names, 'no modules found'\n"
        "for n in names: importlib.import_module('shopguide.ml.' + n)\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'django', 'celery', 'rest_framework'})\n"
        "outside = sorted(m for m in sys.modules if m.startswith('shopguide.') and not m.startswith('shopguide.ml'))\n"
        "print(len(names), bad, outside)"
    )
    count, rest = out.split(" ", 1)
    assert int(count) >= 4
    assert rest == "[] []"


def test_django_start_up_does_not_import_torch():
    out = run_python(
        "import django, sys; django.setup(); "
        "import shopguide.admin, shopguide.api.urls, shopguide.templatetags.shopguide_tags, shopguide.tasks; "
        "print('torch' in sys.modules)",
        DJANGO_SETTINGS_MODULE="tests.settings",
    )
    assert out == "False"
