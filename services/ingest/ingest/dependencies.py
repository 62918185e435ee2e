from typing import Annotated

from fastapi import Depends

from ingest.settings import IngestSettings
from shared.api import RuntimeDep


def get_settings(runtime: RuntimeDep) -> IngestSettings:
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    return settings


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]
