"""Where the emulator started by ./run listens, and its /_emulator/ control endpoints.

./run exports PAMFORM_EMULATOR_* and trusts the emulator's self-signed certificate for
requests (REQUESTS_CA_BUNDLE), which MSAL, azure-identity and the Graph SDK's transport use.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

# The default tenant's app secret and its certificate (docs/emulator.md, tests/fixtures/).
APP_SECRET = "emulator-secret-not-for-production"
# Exchange Online PowerShell's public client, which the emulator accepts for device code sign-ins.
PUBLIC_CLIENT_ID = "fb78d390-0c51-40cd-8e17-fdbfab77341b"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
EXCHANGE_SCOPE = "https://outlook.office365.com/.default"


@dataclass
class Emulator:
    base_url: str
    ca_pem: str
    tenant: str
    tenant_id: str
    client_id: str
    client_secret: str
    repo: Path

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant}"

    def control(self, method: str, path: str, json=None) -> requests.Response:
        """Calls /_emulator/<path> (reset, faults, devicecode/approve, ...)."""
        r = requests.request(method, f"{self.base_url}/_emulator/{path}", json=json, timeout=30)
        r.raise_for_status()
        return r

    def user(self, name: str) -> str:
        return f"{name}@{self.tenant}"


@pytest.fixture(scope="session")
def emulator() -> Emulator:
    env = os.environ
    missing = [k for k in ("PAMFORM_EMULATOR_BASE_URL", "PAMFORM_EMULATOR_CA_PEM") if not env.get(k)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not set: run these tests through .ci/microsoft-libraries/run")
    return Emulator(
        base_url=env["PAMFORM_EMULATOR_BASE_URL"],
        ca_pem=env["PAMFORM_EMULATOR_CA_PEM"],
        tenant=env["PAMFORM_EMULATOR_TENANT"],
        tenant_id=env["PAMFORM_EMULATOR_TENANT_ID"],
        client_id=env["PAMFORM_EMULATOR_CLIENT_ID"],
        client_secret=APP_SECRET,
        repo=Path(env["PAMFORM_REPO"]),
    )


@pytest.fixture(autouse=True)
def fresh_tenant(emulator):
    """Every test starts from the seed, with no faults."""
    emulator.control("POST", "reset")
    emulator.control("PUT", "faults", json={})
    yield
