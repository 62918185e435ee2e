from typing import Annotated

from fastapi import Depends

from ingest.geocoding.service import AccountLocator, build_locator
from ingest.settings import IngestSettings
from shared.api import RuntimeDep


async def get_settings(runtime: RuntimeDep) -> IngestSettings:
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    return settings


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]


async def get_locator(runtime: RuntimeDep, settings: SettingsDep) -> AccountLocator:
    # Async, so it runs on the event loop rather than in a worker thread, and
    # two first uploads cannot build two locators with two rate limits.
    locator = runtime.state.get("locator")
    if locator is None:
        locator = build_locator(settings, runtime.sessionmaker)
        runtime.state["locator"] = locator
    assert isinstance(locator, AccountLocator)
    return locator


LocatorDep = Annotated[AccountLocator, Depends(get_locator)]
