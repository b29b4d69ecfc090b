"""Typed application state: `create_service_app` keeps one `ServiceState` (or the service's
subclass) on the app, and `service_state` returns it as the type asked for."""

from __future__ import annotations

import pytest

from aos_common.app import create_service_app
from aos_common.settings import ServiceSettings
from aos_common.state import ServiceState, service_state


class ExampleState(ServiceState):
    widgets: int = 0


def settings() -> ServiceSettings:
    return ServiceSettings(service_name="example", environment="test", telemetry_enabled=False)


def test_the_settings_are_on_the_state_before_the_lifespan_starts() -> None:
    configured = settings()
    app = create_service_app(configured, title="example")
    assert service_state(app).settings is configured


def test_a_service_gets_its_own_state_class() -> None:
    app = create_service_app(settings(), title="example", state_class=ExampleState)
    state = service_state(app, ExampleState)
    state.widgets += 1
    assert service_state(app, ExampleState).widgets == 1


def test_asking_for_another_services_state_names_the_mix_up() -> None:
    app = create_service_app(settings(), title="example")
    with pytest.raises(TypeError, match="the app's state is ServiceState, not ExampleState"):
        service_state(app, ExampleState)


def test_a_lifespan_object_read_before_the_lifespan_is_an_attribute_error() -> None:
    app = create_service_app(settings(), title="example")
    with pytest.raises(AttributeError, match="engine"):
        _ = service_state(app).engine
