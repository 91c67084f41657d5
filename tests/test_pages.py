"""Widgets and pages through Django's test client and template engine (no browser).

The template tags run in the test host shop (custom product and user models, tests.settings);
the demo shop's own pages run in a subprocess on the trained demo database (storefront settings).
"""

from __future__ import annotations

import logging
import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.template import Context, Template

from shopguide.services.events import VISITOR_SESSION_KEY
from tests.demo import shell_json
from tests.factories import make_articles

urlpatterns = []  # a shop that did not mount shopguide's API (see test_events_url_is_left_out_...)

ALL_WIDGETS = "{% load shopguide_tags %}{% related_products article %}{% recommended_for request %}{% trending %}"


def guest_request(rf):
    """A guest's GET request with a (still empty) session, as middleware would leave it."""
    request = rf.get("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = AnonymousUser()
    return request


@pytest.fixture
def page_request(rf):
    return guest_request(rf)


def render(source: str, request, **context) -> str:
    return Template(source).render(Context({"request": request, **context}))


def sections(html: str) -> dict[str, tuple[str, str, list[str]]]:
    """Widget name -> (source, version, product ids) for each widget on the page."""
    found = {}
    for name, attributes, body in re.findall(
        r'<section[^>]*data-shopguide-widget="([^"]+)"([^>]*)>(.*?)</section>', html, re.S
    ):
        source = re.search(r'data-shopguide-source="([^"]*)"', attributes).group(1)
        version = re.search(r'data-shopguide-version="([^"]*)"', attributes).group(1)
        found[name] = (source, version, re.findall(r'data-product-id="([^"]+)"', body))
    return found


def test_widgets_render_nothing_when_there_is_nothing_to_show(db, page_request, caplog):
    html = render(ALL_WIDGETS, page_request, article=None)
    assert html == ""
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_without_a_model_widgets_show_labelled_fallbacks_and_no_product_twice(db, page_request):
    articles = make_articles(20, with_images=False)
    html = render(ALL_WIDGETS, page_request, article=articles[0])
    widgets = sections(html)
    assert set(widgets) == {"related_products", "recommended_for", "trending"}
    assert widgets["related_products"][:2] == ("popular", "")
    assert widgets["recommended_for"][:2] == ("trending", "")
    assert widgets["trending"][:2] == ("trending", "")
    related, recommended, trending = (widgets[name][2] for name in ("related_products", "recommended_for", "trending"))
    assert "A-0000" not in related
    # A new guest's recommendations are trending products too: each widget leaves out what the
    # widgets above it showed, so the page shows 20 different products, not the same 8 twice.
    assert (len(related), len(recommended), len(trending)) == (8, 8, 4)
    assert len(set(related) | set(recommended) | set(trending)) == 20
    assert len(re.findall(r'class="shopguide-reason">[^<]+<', html)) == 20  # every item says why


def test_each_page_leaves_out_only_what_it_showed(db, rf):
    make_articles(10, with_images=False)
    first, second = (
        sections(render("{% load shopguide_tags %}{% trending limit=4 %}", guest_request(rf))) for _ in range(2)
    )
    assert first == second  # the next request starts over


def test_a_guest_widget_never_starts_a_session(db, page_request):
    make_articles(3, with_images=False)
    html = render("{% load shopguide_tags %}{% recommended_for request %}", page_request)
    assert "data-product-id" in html
    assert VISITOR_SESSION_KEY not in page_request.session and not page_request.session.modified


def test_a_broken_widget_logs_and_renders_nothing(db, page_request, caplog):
    make_articles(3, with_images=False)
    html = render(
        '{% load shopguide_tags %}<main>{% trending limit="many" %}{% trending widget="../evil" %}</main>', page_request
    )
    assert html == "<main></main>"
    errors = [
        r for r in caplog.records if r.name == "shopguide.templatetags.shopguide_tags" and r.levelno == logging.ERROR
    ]
    assert len(errors) == 2 and all(r.exc_info for r in errors)


def test_limit_is_capped_at_max_limit(db, page_request, settings):
    make_articles(6, with_images=False)
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "MAX_LIMIT": 4, "DEFAULT_LIMIT": 2}
    assert len(sections(render("{% load shopguide_tags %}{% trending limit=50 %}", page_request))["trending"][2]) == 4
    assert len(sections(render("{% load shopguide_tags %}{% trending %}", page_request))["trending"][2]) == 2


def test_assets_and_events_url_come_once_per_page(db, page_request, rf):
    articles = make_articles(4, with_images=False)
    html = render(
        "{% load shopguide_tags %}<head>{% shopguide_assets %}</head>"
        '{% related_products article widget="looks_similar" space="image" %}{% trending %}',
        page_request,
        article=articles[0],
    )
    assert html.count("widgets.js") == 1 and html.count("widgets.css") == 1
    assert html.index("widgets.js") < html.index("</head>")
    assert html.count('data-shopguide-events-url="/api/shopguide/events/"') == 2
    # without {% shopguide_assets %}, the first widget brings them
    html = render("{% load shopguide_tags %}{% trending %}{% trending widget='again' %}", guest_request(rf))
    assert html.count("widgets.js") == 1 and html.index("widgets.js") < html.index("<section")


def test_events_url_is_left_out_when_the_api_is_not_mounted(db, page_request, settings):
    make_articles(2, with_images=False)
    settings.ROOT_URLCONF = __name__
    html = render("{% load shopguide_tags %}{% trending %}", page_request)
    assert "data-product-id" in html and "data-shopguide-events-url" not in html


def test_a_shop_template_for_one_widget_wins(db, page_request):
    make_articles(2, with_images=False)
    html = render('{% load shopguide_tags %}{% trending widget="compact" %}', page_request)
    assert '<p class="compact" data-shopguide-widget="compact">' in html
    assert "<section" not in html and len(re.findall("data-product-id", html)) == 2


def test_related_products_by_one_space_without_that_model_falls_back(db, page_request):
    articles = make_articles(4, with_images=False)
    html = render(
        '{% load shopguide_tags %}{% related_products article space="behaviour" '
        'widget="customers_also_bought" title="Customers also bought" %}',
        page_request,
        article=articles[1],
    )
    assert 'aria-label="Customers also bought"' in html
    assert sections(html)["customers_also_bought"][0] == "popular"


# -- the demo shop's pages ---------------------------------------------------------------------

DEMO_PAGES = """
import json
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
c = Client()
out = {}
def post(name, data):
    r = c.post('/search/image/', data)
    out[name] = [r.status_code, r.content.decode()]
post('not_an_image', {'image': SimpleUploadedFile('notes.txt', b'these are not pixels')})
post('no_file', {})
post('empty', {'image': SimpleUploadedFile('empty.png', b'')})
with override_settings(SHOPGUIDE={**settings.SHOPGUIDE, 'MAX_UPLOAD_BYTES': 1000}):
    post('too_big', {'image': SimpleUploadedFile('big.png', b'x' * 1001)})
r = c.get('/account/')
out['account'] = [r.status_code, r.get('Location')]
r = c.get('/search/image/')
out['image_search_get'] = [r.status_code, r.get('Location')]
r = c.get('/search/')
out['search_empty'] = [r.status_code, 'enctype="multipart/form-data"' in r.content.decode()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def demo_pages(demo_env, demo_ready):
    return shell_json(demo_env, DEMO_PAGES)


@pytest.mark.parametrize(
    "case, message",
    [
        ("not_an_image", "The upload cannot be used as an image"),
        ("no_file", "Choose an image file to search with."),
        ("empty", "The uploaded file is empty."),
        ("too_big", "The image is 1,001 bytes; the limit is 1,000 bytes."),
    ],
)
def test_a_bad_image_upload_is_a_400_that_says_why(demo_pages, case, message):
    status, html = demo_pages[case]
    assert status == 400
    error = re.search(r'<div class="error" role="alert" id="id_image_error">(.*?)</div>', html, re.S)
    assert error and message in error.group(1)
    assert 'aria-describedby="id_image_error"' in html and "search-results" not in html


def test_the_account_page_sends_guests_to_the_login(demo_pages):
    assert demo_pages["account"] == [302, "/accounts/login/?next=/account/"]


def test_the_search_page_without_a_query_offers_the_image_upload(demo_pages):
    assert demo_pages["search_empty"] == [200, True]
    assert demo_pages["image_search_get"] == [302, "/search/"]


def test_a_shops_own_list_gets_the_click_tracking_attributes(db, page_request):
    from shopguide.selectors import Recommendations

    html = render(
        '{% load shopguide_tags %}<ul {% shopguide_tracking "search" results %}>',
        page_request,
        results=Recommendations(version=3, source="hybrid"),
    )
    assert 'data-shopguide-widget="search" data-shopguide-version="3" data-shopguide-source="hybrid"' in html
    assert (
        'data-shopguide-events-url="/api/shopguide/events/"' in html
        and 'data-shopguide-csrf-cookie="csrftoken"' in html
    )
    with pytest.raises(Exception, match="Widget name"):
        render('{% load shopguide_tags %}{% shopguide_tracking "no spaces" results %}', page_request, results=None)
