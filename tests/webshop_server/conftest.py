"""Fixtures: the Flask app and its test client."""

import pytest

pytest.importorskip("flask", reason="the webshop extra is not installed")


@pytest.fixture(scope="session")
def app():
    from webshop_server.app import create_app

    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
