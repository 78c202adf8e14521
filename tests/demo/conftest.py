"""The demo switched on or off for a test: PATCHBAY_DEMO set and config.urls rebuilt from it, as a server
started with that setting builds it."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from django.urls import clear_url_caches
from pytest_django.fixtures import Settings as SettingsWrapper

import config.urls


def _mount(settings: SettingsWrapper, on: bool) -> None:
    settings.PATCHBAY_DEMO = on
    importlib.reload(config.urls)
    clear_url_caches()


@pytest.fixture
def demo_on(settings: SettingsWrapper) -> Iterator[None]:
    original = settings.PATCHBAY_DEMO
    _mount(settings, True)
    yield
    _mount(settings, original)


@pytest.fixture
def demo_off(settings: SettingsWrapper) -> Iterator[None]:
    original = settings.PATCHBAY_DEMO
    _mount(settings, False)
    yield
    _mount(settings, original)
