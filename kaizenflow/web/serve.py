"""The ASGI entry point uvicorn imports in each worker: the app of the configuration in KAIZEN_WEB_CONFIG."""

from __future__ import annotations

import os

from starlette.applications import Starlette


def application() -> Starlette:
    """Built per worker process (uvicorn's factory), from the configuration `kaizen web` named."""
    from kaizenflow.pipeline.config import ConfigError, load_config
    from kaizenflow.web.app import create_app

    path = os.environ.get("KAIZEN_WEB_CONFIG")
    if not path:
        raise ConfigError("KAIZEN_WEB_CONFIG is not set: start the web app with `kaizen web --config FILE`")
    return create_app(load_config(path))
