"""Conformance of the gc-sandbox Graph tenant with Microsoft's Python SDK (msgraph-sdk).

The sandbox is started by run.sh with --tls; this suite authenticates with azure-identity's
ClientSecretCredential against the sandbox's token endpoint (tenant discovery included), points
the SDK's request adapter at the sandbox, and asserts that the SDK's models come back filled in.
"""

import datetime
import os
import ssl
import tomllib

import httpx
import pytest
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.file_attachment import FileAttachment
from msgraph.generated.models.item_attachment import ItemAttachment
from msgraph.generated.models.message import Message
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder as CalendarViewDelta,
)
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder
from msgraph_core import GraphClientFactory
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem
from urllib.parse import urlparse

URL = os.environ["GC_SANDBOX_URL"]
CONFIG = tomllib.loads(open(os.environ["GC_SANDBOX_CONFIG"], encoding="utf-8").read())
MS = CONFIG["microsoft"]
CA = MS["ca_file"]


def make_client() -> GraphServiceClient:
    credential = ClientSecretCredential(
        MS["tenant_id"],
        MS["client_id"],
        MS["client_secret"],
        authority=URL,
        disable_instance_discovery=True,
        connection_verify=CA,
    )
    host = urlparse(URL).hostname
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=["https://graph.microsoft.com/.default"], allowed_hosts=[host]
    )
    ctx = ssl.create_default_context(cafile=CA)
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=ctx))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{URL}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def window(days: int = 7):
    now = datetime.datetime.now(datetime.timezone.utc)
    start = (now - datetime.timedelta(days=days)).strftime("%Y-%m-%dT00:00:00Z")
    end = (now + datetime.timedelta(days=days)).strftime("%Y-%m-%dT00:00:00Z")
    return start, end


async def mailbox_users(client):
    cfg = RequestConfiguration(
        query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            select=["id", "mail", "userPrincipalName", "userType", "accountEnabled"], top=999
        )
    )
    users = await client.users.get(request_configuration=cfg)
    return users


async def first_mailbox(client) -> str:
    users = await mailbox_users(client)
    admin = MS["admin_email"].lower()
    match = [u for u in users.value if (u.mail or "").lower() == admin]
    assert match, "the admin is a user"
    return match[0].id


async def test_lists_users_with_models_filled_in():
    client = make_client()
    users = await mailbox_users(client)
    assert len(users.value) >= 3
    for u in users.value:
        assert u.id and u.user_principal_name
        assert u.account_enabled is True
    assert any(u.user_type == "Guest" for u in users.value)
    one = await client.users.by_user_id(users.value[0].id).get()
    assert one.id == users.value[0].id
    assert one.display_name


async def test_walks_a_folder_message_delta_to_the_end():
    client = make_client()
    uid = await first_mailbox(client)
    builder = client.users.by_user_id(uid).mail_folders.by_mail_folder_id("inbox").messages.delta
    page = await builder.get()
    seen = []
    pages = 1
    while True:
        for m in page.value:
            assert isinstance(m, Message)
            assert m.id and m.subject is not None
            assert m.received_date_time is not None
            assert m.from_ is not None and m.from_.email_address.address
        seen.extend(m.id for m in page.value)
        if page.odata_next_link:
            page = await builder.with_url(page.odata_next_link).get()
            pages += 1
            continue
        break
    assert page.odata_delta_link and "$deltatoken=" in page.odata_delta_link
    assert pages >= 2, "default page size forces paging"
    assert len(seen) == len(set(seen)) and len(seen) >= 10
    again = await builder.with_url(page.odata_delta_link).get()
    assert again.value == [] and again.odata_delta_link
    # ids round-trip
    m = await client.users.by_user_id(uid).messages.by_message_id(seen[0]).get()
    assert m.id == seen[0]


async def test_reads_attachments_and_mime():
    client = make_client()
    uid = await first_mailbox(client)
    msgs = client.users.by_user_id(uid).messages
    page = await msgs.get()
    with_att = None
    while page is not None and with_att is None:
        with_att = next((m for m in page.value if m.has_attachments), None)
        page = await msgs.with_url(page.odata_next_link).get() if with_att is None and page.odata_next_link else None
    assert with_att is not None, "a message with attachments"
    atts = await msgs.by_message_id(with_att.id).attachments.get()
    assert atts.value
    for a in atts.value:
        assert a.name and a.size is not None and a.id
        assert isinstance(a, (FileAttachment, ItemAttachment))
        if isinstance(a, FileAttachment) and a.size < 1_000_000:
            assert a.content_bytes is not None and len(a.content_bytes) == a.size
    mime = await msgs.by_message_id(with_att.id).content.get()
    assert isinstance(mime, (bytes, bytearray)) and b"Subject:" in mime and b"Message-ID:" in mime


async def test_walks_calendar_view_delta():
    client = make_client()
    uid = await first_mailbox(client)
    start, end = window()
    cfg = RequestConfiguration(
        query_parameters=CalendarViewDelta.DeltaRequestBuilderGetQueryParameters(
            start_date_time=start, end_date_time=end
        )
    )
    builder = client.users.by_user_id(uid).calendar_view.delta
    page = await builder.get(request_configuration=cfg)
    events = []
    while True:
        events.extend(page.value)
        if not page.odata_next_link:
            break
        page = await builder.with_url(page.odata_next_link).get()
    assert page.odata_delta_link
    assert len(events) >= 5
    for e in events:
        assert e.id and e.start and e.start.date_time and e.start.time_zone
        assert e.type is not None
    assert any(e.series_master_id for e in events)
    again = await builder.with_url(page.odata_delta_link).get()
    assert again.value == []


async def test_reads_instances_of_a_series():
    client = make_client()
    uid = await first_mailbox(client)
    events = await client.users.by_user_id(uid).events.get()
    page = events
    master = None
    while page is not None and master is None:
        master = next((e for e in page.value if e.recurrence is not None), None)
        page = await client.users.by_user_id(uid).events.with_url(page.odata_next_link).get() if master is None and page.odata_next_link else None
    assert master is not None and master.recurrence.pattern.type is not None
    start, end = window(30)
    cfg = RequestConfiguration(
        query_parameters=InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
            start_date_time=start, end_date_time=end, top=100
        )
    )
    inst = await client.users.by_user_id(uid).events.by_event_id(master.id).instances.get(request_configuration=cfg)
    assert inst.value
    assert all(i.series_master_id == master.id for i in inst.value)
    kinds = {str(i.type.value) for i in inst.value}
    assert "occurrence" in kinds


async def test_lists_contacts_and_todo_tasks():
    client = make_client()
    uid = await first_mailbox(client)
    contacts = await client.users.by_user_id(uid).contacts.get()
    assert contacts.value
    for c in contacts.value:
        assert c.id and c.display_name
        assert c.email_addresses and c.email_addresses[0].address
    lists = await client.users.by_user_id(uid).todo.lists.get()
    default = next(l for l in lists.value if str(l.wellknown_list_name.value) == "defaultList")
    tasks = await client.users.by_user_id(uid).todo.lists.by_todo_task_list_id(default.id).tasks.get()
    assert tasks.value
    for t in tasks.value:
        assert t.id and t.title and t.status is not None


async def test_sends_a_batch():
    client = make_client()
    uid = await first_mailbox(client)
    folders = BatchRequestItem(
        request_information=client.users.by_user_id(uid).mail_folders.to_get_request_information()
    )
    user = BatchRequestItem(request_information=client.users.by_user_id(uid).to_get_request_information())
    missing = BatchRequestItem(
        request_information=client.users.by_user_id("nobody@contoso.example").messages.to_get_request_information()
    )
    batch = BatchRequestContent()
    for item in (folders, user, missing):
        batch.add_request(None, item)
    resp = await client.batch.post(batch_request_content=batch)
    codes = resp.get_response_status_codes()
    assert codes[folders.id] == 200
    assert codes[user.id] == 200
    assert codes[missing.id] == 404
    ok = resp.get_response_by_id(user.id)
    assert ok.headers and any(k.lower() == "content-type" for k in ok.headers)
    # msgraph-core 1.5.2 cannot hand out JSON bodies of batch responses (it reads them as
    # base64 bytes), so the bodies are checked by the Rust tests of the sandbox instead.


async def test_errors_parse_as_odata_errors():
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    client = make_client()
    uid = await first_mailbox(client)
    with pytest.raises(ODataError) as missing:
        await client.users.by_user_id(uid).messages.by_message_id("AAMkADdoesnotexistAAA=").get()
    assert missing.value.response_status_code == 404
    err = missing.value.error
    assert err.code == "ErrorItemNotFound" and err.message
    assert err.inner_error.request_id and err.inner_error.date is not None
    # an expired or unknown delta token: 410 SyncStateNotFound
    builder = client.users.by_user_id(uid).mail_folders.by_mail_folder_id("inbox").messages.delta
    with pytest.raises(ODataError) as gone:
        await builder.with_url(f"{URL}/v1.0/users/{uid}/mailFolders/inbox/messages/delta?$deltatoken=expired").get()
    assert gone.value.response_status_code == 410
    assert gone.value.error.code == "SyncStateNotFound"


async def test_immutable_ids_survive_a_move():
    from msgraph.generated.users.item.messages.item.move.move_post_request_body import MovePostRequestBody

    client = make_client()
    uid = await first_mailbox(client)
    cfg = RequestConfiguration()
    cfg.headers.add("Prefer", 'IdType="ImmutableId"')
    page = await client.users.by_user_id(uid).mail_folders.by_mail_folder_id("inbox").messages.get(request_configuration=cfg)
    first = page.value[0]
    body = MovePostRequestBody(destination_id="archive")
    moved = await client.users.by_user_id(uid).messages.by_message_id(first.id).move.post(body, request_configuration=cfg)
    assert moved.id == first.id
    assert moved.parent_folder_id != first.parent_folder_id
