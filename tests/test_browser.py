"""The demo shop in a real browser: headless chromium drives a real server (`runserver`) on the
trained demo database. Widgets, search by text and by image, the account page, and a click on a
recommendation that the widgets' script records through the events API."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.demo import DemoServer, shell_json

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 20
PASSWORD = "browser-test-password"

# The shopper with the longest history gets a password (imported shoppers have none); the first
# product with an image is the one the tests look at.
FACTS = f"""
import json
from django.contrib.auth import get_user_model
from django.db.models import Count
from storefront.catalog.models import Product
shopper = (get_user_model().objects.filter(username__startswith="shopper")
           .annotate(n=Count("shopguide_interactions")).order_by("-n", "username").first())
shopper.set_password({PASSWORD!r})
shopper.save()
product = Product.objects.filter(in_stock=True).exclude(image="").order_by("pk").first()
print(json.dumps({{"username": shopper.username, "user_id": shopper.pk, "product": product.pk,
                  "title": product.title, "image": product.image.path}}))
"""


@pytest.fixture(scope="module")
def shop(demo_env, demo_ready, tmp_path_factory):
    """The demo shop served by a real `runserver` process, and facts about its data."""
    facts = shell_json(demo_env, FACTS)
    server = DemoServer(demo_env, tmp_path_factory.mktemp("browser") / "runserver.log")
    server.facts = facts
    server.database_url = demo_env["DATABASE_URL"]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.skip(
            f"no {' or '.join(missing)}: install the Debian packages chromium chromium-driver (make system-deps)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium, shop):
    """The browser on a fresh visit: no cookies, so no session and no login from earlier tests."""
    chromium.get(shop.url + "/static/shopguide/widgets.css")  # cookies are per site: be on it first
    chromium.delete_all_cookies()
    return chromium


def wait_until(driver, shop, condition, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT_SECONDS).until(condition)
    except TimeoutException:
        raise AssertionError(
            f"timed out waiting for {what}; page {driver.current_url}\nserver log:\n{shop.log()[-3000:]}"
        ) from None


def widget_items(driver, shop, name: str) -> list:
    from selenium.webdriver.common.by import By

    selector = f'[data-shopguide-widget="{name}"] li[data-product-id]'
    return wait_until(driver, shop, lambda d: d.find_elements(By.CSS_SELECTOR, selector), f"items in widget {name!r}")


def widget_attribute(driver, name: str, attribute: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'[data-shopguide-widget="{name}"]').get_attribute(attribute)


def reasons(items) -> list[str]:
    from selenium.webdriver.common.by import By

    return [item.find_element(By.CSS_SELECTOR, ".shopguide-reason").text for item in items]


def stored_click(shop, *, widget: str, product, version, user_id=None):
    """The click event the widgets' script sent, as stored: (user_id, visitor) or None."""
    actor = "user_id = %s" if user_id is not None else "user_id IS NULL AND visitor <> %s"
    with psycopg.connect(shop.database_url) as conn:
        return conn.execute(
            "SELECT user_id, visitor FROM shopguide_interaction WHERE type = 'click' AND widget = %s"
            " AND product_id = %s AND model_version_id IS NOT DISTINCT FROM %s AND " + actor,
            [widget, product, version, user_id if user_id is not None else ""],
        ).fetchone()


def test_home_shows_recommendations_and_trending_styled_and_scripted(browser, shop):
    browser.get(shop.url + "/")
    for widget in ("recommended_for_you", "trending"):
        items = widget_items(browser, shop, widget)
        assert len(items) == 8
        assert all(reasons(items)), "every item says why it is shown"
        assert widget_attribute(browser, widget, "data-shopguide-events-url") == "/api/shopguide/events/"
    assert widget_attribute(browser, "recommended_for_you", "data-shopguide-source") == "trending"  # a new guest
    # widgets.css and widgets.js came from the app's static folder (nothing else styles the grid)
    assert (
        browser.execute_script("return getComputedStyle(document.querySelector('.shopguide-items')).display") == "grid"
    )
    assert wait_until(browser, shop, lambda d: d.execute_script("return !!window.shopguideWidgets"), "widgets.js")
    assert browser.execute_script("return document.querySelectorAll('script[src$=\"widgets.js\"]').length") == 1
    # a guest who looked at a product gets personal recommendations from the session's history
    browser.get(f"{shop.url}/products/{shop.facts['product']}/")
    browser.get(shop.url + "/")
    items = widget_items(browser, shop, "recommended_for_you")
    assert widget_attribute(browser, "recommended_for_you", "data-shopguide-source") == "personal"
    assert any(reason.startswith("because you viewed") for reason in reasons(items))


def test_product_page_shows_looks_similar_and_customers_also_bought_and_records_a_guest_click(browser, shop):
    from selenium.webdriver.common.by import By

    product = shop.facts["product"]
    browser.get(f"{shop.url}/products/{product}/")
    for widget, source in (("looks_similar", "image"), ("customers_also_bought", "behaviour")):
        items = widget_items(browser, shop, widget)
        assert len(items) == 8 and str(product) not in {i.get_attribute("data-product-id") for i in items}
        assert widget_attribute(browser, widget, "data-shopguide-source") == source
    version = int(widget_attribute(browser, "looks_similar", "data-shopguide-version"))
    first = widget_items(browser, shop, "looks_similar")[0]
    clicked = first.get_attribute("data-product-id")
    first.find_element(By.CSS_SELECTOR, "a").click()
    wait_until(browser, shop, lambda d: d.current_url.endswith(f"/products/{clicked}/"), "the clicked product's page")
    row = wait_until(
        browser,
        shop,
        lambda d: stored_click(shop, widget="looks_similar", product=clicked, version=version),
        "the guest's click event",
    )
    assert row[0] is None and len(row[1]) == 32


def test_search_by_words_and_by_image(browser, shop):
    from selenium.webdriver.common.by import By

    facts = shop.facts
    browser.get(shop.url + "/")
    box = browser.find_element(By.NAME, "q")
    box.send_keys(facts["title"])
    box.submit()
    wait_until(browser, shop, lambda d: "/search/?q=" in d.current_url, "the search page")
    results = wait_until(
        browser, shop, lambda d: d.find_elements(By.CSS_SELECTOR, ".search-results li.card"), "search results"
    )
    assert facts["title"] in [card.find_element(By.CSS_SELECTOR, "a div").text for card in results]
    assert browser.find_element(By.CSS_SELECTOR, ".search-results").get_attribute("data-source") == "hybrid"
    # A click on a search result is recorded like a widget's, as widget "search" of the model version.
    version = int(browser.find_element(By.CSS_SELECTOR, ".search-results").get_attribute("data-shopguide-version"))
    card = results[0]
    clicked = card.get_attribute("data-product-id")
    card.find_element(By.CSS_SELECTOR, "a").click()
    wait_until(browser, shop, lambda d: d.current_url.endswith(f"/products/{clicked}/"), "the clicked result's page")
    wait_until(
        browser,
        shop,
        lambda d: stored_click(shop, widget="search", product=clicked, version=version),
        "the search click",
    )
    browser.back()

    browser.find_element(By.ID, "id_image").send_keys(facts["image"])
    browser.find_element(By.CSS_SELECTOR, ".image-search button[type=submit]").click()
    wait_until(browser, shop, lambda d: d.current_url.endswith("/search/image/"), "the image search page")
    results = wait_until(
        browser, shop, lambda d: d.find_elements(By.CSS_SELECTOR, ".search-results li.card"), "image results"
    )
    assert browser.find_element(By.CSS_SELECTOR, ".search-results").get_attribute("data-source") == "image-search"
    first = results[0]
    assert first.find_element(By.CSS_SELECTOR, "a div").text == facts["title"]  # its own photo looks most alike
    assert first.find_element(By.CSS_SELECTOR, "small").text == "looks like your photo"


def test_customer_sees_their_profile_and_a_click_on_a_recommendation_is_recorded(browser, shop):
    from selenium.webdriver.common.by import By

    facts = shop.facts
    browser.get(shop.url + "/account/")
    wait_until(browser, shop, lambda d: "/accounts/login/" in d.current_url, "the login page")
    browser.find_element(By.ID, "id_username").send_keys(facts["username"])
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_until(browser, shop, lambda d: d.current_url.endswith("/account/"), "the account page after login")

    # The URL changes when the page starts loading: wait for its content, not only the address.
    affinities = wait_until(
        browser, shop, lambda d: d.find_elements(By.CSS_SELECTOR, ".affinities tbody tr"), "affinities"
    )
    assert affinities and all(row.find_element(By.CSS_SELECTOR, "td").text.endswith("%") for row in affinities)
    segments = browser.find_elements(By.CSS_SELECTOR, ".segments tbody tr")
    assert segments and all("%" in row.text for row in segments)  # the demo's rule-labelled segments, predicted
    assert browser.find_elements(By.CSS_SELECTOR, ".history li")

    items = widget_items(browser, shop, "account_recommended")
    assert widget_attribute(browser, "account_recommended", "data-shopguide-source") == "personal"
    version = int(widget_attribute(browser, "account_recommended", "data-shopguide-version"))
    clicked = items[0].get_attribute("data-product-id")
    items[0].find_element(By.CSS_SELECTOR, "a").click()
    wait_until(browser, shop, lambda d: d.current_url.endswith(f"/products/{clicked}/"), "the clicked product's page")
    # A logged-in customer's POST passes Django's CSRF check only with the X-CSRFToken header.
    row = wait_until(
        browser,
        shop,
        lambda d: stored_click(
            shop, widget="account_recommended", product=clicked, version=version, user_id=facts["user_id"]
        ),
        "the customer's click event",
    )
    assert row[0] == facts["user_id"]
