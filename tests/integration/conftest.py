import pytest

from tests.conftest import IsolatedEnvironment


@pytest.fixture(autouse=True)
def _integration_environment(service_env: IsolatedEnvironment) -> IsolatedEnvironment:
    return service_env
