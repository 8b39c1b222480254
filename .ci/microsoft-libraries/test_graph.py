"""Microsoft's Graph SDK for Python (msgraph-sdk), unmodified, against the emulator.

The SDK signs in with azure-identity's ClientSecretCredential at the emulator's token
endpoint and reads users, groups, a group's members through the SDK's PageIterator, a
groups delta round until its deltaLink, and a $batch.

Two documented SDK settings point it at the emulator instead of graph.microsoft.com:
- the request adapter's base URL ("Use a custom base URL" / national clouds:
  https://learn.microsoft.com/en-us/graph/sdks/national-clouds?tabs=python);
- the authentication provider's allowed hosts, without which the provider sends no token to
  a host that is not Microsoft Graph's
  (https://github.com/microsoft/kiota-authentication-azure-python, `allowed_hosts`).
azure-identity is pointed at the emulator with its `authority` argument and
`disable_instance_discovery`, both documented on ClientSecretCredential.

It runs against the emulator ./run serves (conftest.py), seeded for each test with the
default tenant plus a group of 7 members; ./run trusts the emulator's self-signed CA for
httpx and requests through SSL_CERT_FILE and REQUESTS_CA_BUNDLE.
"""

import asyncio
import json
import re

import pytest
from azure.identity.aio import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.item.members.members_request_builder import MembersRequestBuilder
from msgraph_core import PageIterator
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem
from kiota_abstractions.base_request_configuration import RequestConfiguration

SECRET = "emulator-secret-not-for-production"
GROUP_MAIL = "sdk-approvers@contoso.onmicrosoft.com"
MEMBERS = 7


@pytest.fixture(autouse=True)
def sdk_tenant(emulator, fresh_tenant):
    """The default tenant plus one mail-enabled security group of seven members."""
    seed = json.loads((emulator.repo / "src/emulator/default_seed.json").read_text())
    users = [u["user_principal_name"] for u in seed["users"]][:MEMBERS]
    seed.setdefault("groups", []).append(
        {"name": "SDK approvers", "primary_smtp_address": GROUP_MAIL, "members": users}
    )
    emulator.control("POST", "seed", json=seed)


def graph_client(emulator):
    credential = ClientSecretCredential(
        emulator.tenant_id,
        emulator.client_id,
        SECRET,
        authority=emulator.base_url,
        disable_instance_discovery=True,
    )
    host = re.sub(r"^https?://", "", emulator.base_url).split(":")[0]
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=["https://graph.microsoft.com/.default"], allowed_hosts=[host]
    )
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = f"{emulator.base_url}/v1.0"
    return GraphServiceClient(request_adapter=adapter), credential


def run(coro):
    return asyncio.run(coro)


def test_users_and_groups(emulator):
    async def go():
        client, cred = graph_client(emulator)
        async with cred:
            users = await client.users.get()
            groups = await client.groups.get()
        return users, groups

    users, groups = run(go())
    assert len(users.value) >= MEMBERS
    assert all(u.id and u.user_principal_name for u in users.value)
    assert [g.mail for g in groups.value] == [GROUP_MAIL]
    assert groups.value[0].mail_enabled and groups.value[0].security_enabled


def test_member_paging_with_the_page_iterator(emulator):
    async def go():
        client, cred = graph_client(emulator)
        async with cred:
            groups = await client.groups.get()
            group_id = groups.value[0].id
            query = MembersRequestBuilder.MembersRequestBuilderGetQueryParameters(top=2)
            first = await client.groups.by_group_id(group_id).members.get(
                request_configuration=RequestConfiguration(query_parameters=query)
            )
            assert first.odata_next_link, "seven members in pages of two"
            seen = []

            def keep(member):
                seen.append(member.id)
                return True

            pages = PageIterator(first, client.request_adapter)
            await pages.iterate(keep)
        return seen

    seen = run(go())
    assert len(seen) == MEMBERS
    assert len(set(seen)) == MEMBERS


def test_groups_delta_until_the_delta_link(emulator):
    async def go():
        client, cred = graph_client(emulator)
        async with cred:
            page = await client.groups.delta.get()
            groups = list(page.value)
            while page.odata_next_link:
                page = await client.groups.delta.with_url(page.odata_next_link).get()
                groups.extend(page.value)
            link = page.odata_delta_link
            again = await client.groups.delta.with_url(link).get()
        return groups, link, again

    groups, link, again = run(go())
    assert link and "$deltatoken=" in link
    assert [g.mail for g in groups if g.mail] == [GROUP_MAIL]
    assert again.value == [] and again.odata_delta_link


def test_batch(emulator):
    async def go():
        client, cred = graph_client(emulator)
        async with cred:
            content = BatchRequestContent()
            users = BatchRequestItem(request_information=client.users.to_get_request_information())
            groups = BatchRequestItem(request_information=client.groups.to_get_request_information())
            content.add_request(users.id, users)
            content.add_request(groups.id, groups)
            response = await client.batch.post(batch_request_content=content)
            codes = response.get_response_status_codes()
            item = response.get_response_by_id(users.id)
        return codes, item

    codes, item = run(go())
    assert set(codes.values()) == {200}, codes
    # msgraph-core does not keep a JSON item body it can parse: it is the repr of a Python
    # dict in some versions and empty in this one, so get_response_by_id(id, type) fails on
    # Microsoft's answers too (https://github.com/microsoftgraph/msgraph-sdk-python-core/issues/807,
    # https://github.com/microsoftgraph/msgraph-sdk-python-core/issues/835). The statuses and
    # headers of the items are what the SDK reads.
    assert item.status == 200
    assert item.content_type.startswith("application/json")
