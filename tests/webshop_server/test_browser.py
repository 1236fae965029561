"""A real browser (headless Chromium via selenium) shops on the site: search, open, choose options, buy, read."""

import threading

import pytest

from tests.headless_chromium import headless_chromium, needs_browser

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the dev extra)")
pytestmark = needs_browser


@pytest.fixture(scope="module")
def site(app):
    import waitress

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture(scope="module")
def browser():
    with headless_chromium("webshop-chromium-") as driver:
        yield driver


def _wait_for(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15).until(condition)


def test_browser_buys_the_goal_and_reads_the_reward(site, browser, app):
    from selenium.webdriver.common.by import By

    shop = app.extensions["webshop"]
    goal = shop.goal("fixed_7")
    product = shop.catalog.products[goal["asin"]]
    browser.get(f"{site}/fixed_7")
    assert goal["instruction_text"] in browser.find_element(By.CSS_SELECTOR, "#instruction-text h4").text
    box = browser.find_element(By.ID, "search_input")
    box.send_keys(product["Title"])
    browser.find_element(By.ID, "search-button").click()
    _wait_for(browser, lambda d: "/search_results/" in d.current_url)
    assert "Page 1 (Total results:" in browser.page_source
    browser.find_element(By.LINK_TEXT, goal["asin"]).click()
    _wait_for(browser, lambda d: "/item_page/" in d.current_url)
    assert browser.find_element(By.ID, "product-title").text == product["Title"]
    for name, value in goal["goal_options"].items():
        url = browser.current_url
        radio = browser.find_element(By.CSS_SELECTOR, f'input[type=radio][name="{name}"][value="{value}"]')
        radio.click()  # its onchange opens the item page with the option chosen
        _wait_for(browser, lambda d, url=url: d.current_url != url)
        checked = browser.find_element(By.CSS_SELECTOR, f'input[type=radio][name="{name}"][value="{value}"]')
        assert checked.is_selected()
    browser.find_element(By.ID, "sub-features").click()
    _wait_for(browser, lambda d: "/item_sub_page/" in d.current_url)
    browser.find_element(By.ID, "prev-page").click()
    _wait_for(browser, lambda d: "/item_page/" in d.current_url)
    browser.find_element(By.ID, "buy-now").click()
    _wait_for(browser, lambda d: "/done/" in d.current_url)
    assert "Thank you for shopping with us!" in browser.page_source
    assert float(browser.find_element(By.ID, "reward").get_attribute("data-reward")) == 1.0
    # Upstream's WebAgentSiteEnv.get_reward reads the first <pre> inside #reward.
    assert float(browser.find_element(By.CSS_SELECTOR, "#reward pre").text) == 1.0


def test_browser_search_for_a_script_stays_text(site, browser):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    browser.get(f"{site}/fixed_0")
    browser.find_element(By.ID, "search_input").send_keys("<script>alert(xyzzy)</script>")
    browser.find_element(By.ID, "search-button").click()
    _wait_for(browser, lambda d: "/search_results/" in d.current_url)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it raises when there is no alert
    assert "Total results: 0" in browser.page_source
