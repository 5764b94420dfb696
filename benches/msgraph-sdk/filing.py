"""The e-mail job of graph-connector, written the straightforward way with Microsoft's Graph SDK.

This is the baseline of the comparison benchmark (issue 15: "≥ 20× a straightforward msgraph-sdk
script doing the same e-mail job"); `cargo bench -p graph-connector --bench sdk_comparison`
runs it and `graph-connector sync --once` on identical sandbox tenants and prints both times.

What it does, one thing after the other, as a first script against the documented APIs would:
for every rep enabled for e-mails in CRM, find the rep's mailbox and its sync folder
(`Inbox/crm`) with the SDK, read the folder's messages, and for each message look every
external address up in CRM (one CRM.interface request per address: persons and companies with
that address), insert one activity linked to what was found, and move the message into the
sync folder's `Sync_Success` subfolder. No concurrency, no batching, no caching across messages.

Usage: filing.py CONFIG.toml   (a connector configuration, e.g. the sandbox's --write-config)
Prints one JSON line: {"mailboxes": n, "filed": n, "failed": n, "seconds": s, "crm_requests": n}.
"""

import asyncio
import datetime
import ssl
import sys
import time
import tomllib
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlparse
from xml.sax.saxutils import escape, quoteattr

import httpx
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.mail_folder import MailFolder
from msgraph.generated.users.item.mail_folders.item.child_folders.child_folders_request_builder import (
    ChildFoldersRequestBuilder,
)
from msgraph.generated.users.item.mail_folders.item.messages.messages_request_builder import (
    MessagesRequestBuilder,
)
from msgraph.generated.users.item.messages.item.move.move_post_request_body import (
    MovePostRequestBody,
)
from msgraph_core import GraphClientFactory

SYNC_FOLDER = "crm"  # under the Inbox
SUCCESS_FOLDER = "Sync_Success"
ACTIVITY_TYPE = "E-Mail"
MAX_BODY = 32000


class Crm:
    """CRM.interface: XML over HTTP POST, the master user impersonating the rep."""

    def __init__(self, cfg):
        self.url = cfg["interface_url"]
        self.user = cfg["master_user"]
        self.pwd = cfg["password"]
        ca = cfg.get("ca_file")
        self.http = httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=ca) if ca else True, timeout=60
        )
        self.requests = 0

    async def request(self, commands: str, rep: str | None = None) -> ET.Element:
        imp = f" impersonate={quoteattr('email=' + rep)}" if rep else ""
        body = (
            f"<request reqid={quoteattr(str(uuid.uuid4()))} user={quoteattr(self.user)} "
            f"pwd={quoteattr(self.pwd)}{imp} lang=\"en\">{commands}</request>"
        )
        self.requests += 1
        r = await self.http.post(
            self.url, content=body.encode("utf-8"), headers={"content-type": "text/xml; charset=utf-8"}
        )
        r.raise_for_status()
        root = ET.fromstring(r.content)
        for ret in root.findall("return"):
            if ret.get("type") == "error":
                raise RuntimeError(f"CRM session error {ret.get('code')}: {ret.get('text')}")
        return root

    async def email_reps(self) -> list[dict]:
        root = await self.request(
            '<query maxrecords="10000"><tables><table tablename="Rep"/></tables>'
            '<condition><cond tablename="Rep" fieldname="ConnectorEnabled" op="=" value="true"/></condition>'
            '<fields tablename="Rep" fields="RepID,Name,EMail1,SyncEmails"/></query>'
        )
        reps = []
        for rec in root.iter("Rep"):
            f = {c.tag: (c.text or "") for c in rec}
            if f.get("SyncEmails", "").lower() in ("true", "1", "yes") and f.get("EMail1"):
                reps.append(f)
        return reps

    async def lookup(self, rep: str, address: str) -> list[tuple[str, str]]:
        """Persons and companies with this address: [(table, id)]."""
        a = quoteattr(address)
        root = await self.request(
            '<query maxrecords="10"><tables><table tablename="Person"/></tables><condition><lop value="or">'
            f'<cond tablename="Person" fieldname="EMail1" op="=" value={a}/>'
            f'<cond tablename="Person" fieldname="EMail2" op="=" value={a}/>'
            '</lop></condition><fields tablename="Person" fields="LastName"/></query>'
            '<query maxrecords="10"><tables><table tablename="Company"/></tables><condition>'
            f'<cond tablename="Company" fieldname="EMail" op="=" value={a}/>'
            '</condition><fields tablename="Company" fields="Company"/></query>',
            rep,
        )
        found = [("Person", r.get("id")) for r in root.iter("Person") if r.get("id")]
        if not found:
            found = [("Company", r.get("id")) for r in root.iter("Company") if r.get("id")]
        return found

    async def insert_activity(self, rep: dict, msg, links: list[tuple[str, str]]) -> None:
        when = msg.received_date_time or datetime.datetime.now(datetime.timezone.utc)
        when = when.astimezone(datetime.timezone.utc)
        text = (msg.body.content if msg.body and msg.body.content else "")[:MAX_BODY]
        link_xml = "".join(f"<link tablename={quoteattr(t)} id={quoteattr(i)}/>" for t, i in links)
        root = await self.request(
            "<insert><fields><Contact>"
            f"<Contact>{ACTIVITY_TYPE}</Contact>"
            f"<Subject>{escape(msg.subject or '')}</Subject>"
            f"<Text>{escape(text)}</Text>"
            f"<Date>{when:%Y-%m-%d}</Date><Time>{when:%H:%M}</Time>"
            f"<RepID>{escape(rep['RepID'])}</RepID>"
            f"{link_xml}</Contact></fields></insert>",
            rep["EMail1"],
        )
        for ret in root.iter("return"):
            if ret.get("type") == "error":
                raise RuntimeError(f"insert refused {ret.get('code')}: {ret.get('text')}")


def graph_client(ms):
    ca = ms.get("ca_file")
    login = ms["login_url"].rstrip("/")
    credential = ClientSecretCredential(
        ms["tenant_id"],
        ms["client_id"],
        ms["client_secret"],
        authority=login,
        disable_instance_discovery=True,
        connection_verify=ca if ca else True,
    )
    graph = ms["graph_url"].rstrip("/")
    auth = AzureIdentityAuthenticationProvider(
        credential,
        scopes=["https://graph.microsoft.com/.default"],
        allowed_hosts=[urlparse(graph).hostname],
    )
    verify = ssl.create_default_context(cafile=ca) if ca else True
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=verify, timeout=60))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{graph}/v1.0"
    return GraphServiceClient(request_adapter=adapter), http


async def child_folder(client, user: str, parent: str, name: str, create: bool):
    folders = client.users.by_user_id(user).mail_folders.by_mail_folder_id(parent).child_folders
    cfg = RequestConfiguration(
        query_parameters=ChildFoldersRequestBuilder.ChildFoldersRequestBuilderGetQueryParameters(top=100)
    )
    page = await folders.get(request_configuration=cfg)
    for f in page.value or []:
        if (f.display_name or "").lower() == name.lower():
            return f.id
    if not create:
        return None
    made = await folders.post(MailFolder(display_name=name))
    return made.id


async def folder_messages(client, user: str, folder: str) -> list:
    builder = client.users.by_user_id(user).mail_folders.by_mail_folder_id(folder).messages
    cfg = RequestConfiguration(
        query_parameters=MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
            select=["id", "subject", "from", "toRecipients", "ccRecipients", "receivedDateTime", "body"],
            top=50,
        )
    )
    page = await builder.get(request_configuration=cfg)
    out = list(page.value or [])
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        out.extend(page.value or [])
    return out


def addresses(msg, own: str, domains: list[str]) -> list[str]:
    out = []
    people = ([msg.from_] if msg.from_ else []) + list(msg.to_recipients or []) + list(msg.cc_recipients or [])
    for r in people:
        a = (r.email_address.address or "").lower() if r.email_address else ""
        if not a or a == own.lower() or a in out:
            continue
        if any(a.endswith("@" + d.lower()) for d in domains):
            continue  # colleagues are reps, not CRM persons
        out.append(a)
    return out


async def main(path: str) -> None:
    cfg = tomllib.loads(open(path, encoding="utf-8").read())
    ms = cfg["microsoft"]
    domains = ms.get("managed_domains", [])
    client, _http = graph_client(ms)
    crm = Crm(cfg["crm"])
    started = time.monotonic()
    mailboxes = filed = failed = 0
    for rep in await crm.email_reps():
        user = rep["EMail1"]
        try:
            sync = await child_folder(client, user, "inbox", SYNC_FOLDER, create=False)
        except Exception:  # no mailbox (licence), or no such user in the tenant
            continue
        if sync is None:
            continue
        mailboxes += 1
        success = await child_folder(client, user, sync, SUCCESS_FOLDER, create=True)
        for msg in await folder_messages(client, user, sync):
            try:
                links = []
                for a in addresses(msg, user, domains):
                    links.extend(await crm.lookup(user, a))
                await crm.insert_activity(rep, msg, links)
                await client.users.by_user_id(user).messages.by_message_id(msg.id).move.post(
                    MovePostRequestBody(destination_id=success)
                )
                filed += 1
            except Exception as e:  # noqa: BLE001 - count and go on, as a batch script would
                failed += 1
                print(f"{user}: {msg.subject!r}: {e}", file=sys.stderr)
    seconds = time.monotonic() - started
    print(
        '{"mailboxes": %d, "filed": %d, "failed": %d, "seconds": %.3f, "crm_requests": %d}'
        % (mailboxes, filed, failed, seconds, crm.requests)
    )
    await crm.http.aclose()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: filing.py CONFIG.toml")
    asyncio.run(main(sys.argv[1]))
