"""A civic app talking to the flatgov gateway through third-party Open311
GeoReport v2 client libraries installed from PyPI, not written here:

- civicbot's ``Open311Client`` (JSON): lists services, reads a definition,
  posts a request, reads it back; the only library on PyPI that posts
  GeoReport v2 requests from Python 3;
- georeport's ``GeoReport`` (XML): reads the same documents in the spec's
  XML form.

The journey in tests/tests/gateway.rs installs both into a virtual
environment under target/ and runs this script; it prints one JSON object
with what the libraries returned, and the journey asserts on it.

    third_party_client.py report   post a request, read it back
    third_party_client.py status   read the request SERVICE_REQUEST_ID
"""

import json
import os
import sys

from civicbot.http import HttpError, HttpTransport, RateLimiter
from civicbot.open311 import CONFIRM_TOKEN, Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport


def environment(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


def clients():
    base_url = environment("OPEN311_ENDPOINT")
    jurisdiction = environment("OPEN311_JURISDICTION_ID")
    endpoint = Endpoint(id="flatgov", name="flatgov", base_url=base_url, write=True)
    # The library waits half a second between calls to one host by default,
    # out of politeness to public servers; this one is the test's own.
    transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0.0))
    json_client = Open311Client(endpoint, transport=transport, jurisdiction_id=jurisdiction)
    xml_client = GeoReport(base_url, jurisdiction=jurisdiction, output_format="xml")
    return json_client, xml_client


def report(json_client, xml_client):
    code = environment("SERVICE_CODE")
    services = json_client.list_services()
    definition = json_client.get_service_definition(code)
    sent = json_client.create_request(
        code,
        dry_run=False,
        confirm=CONFIRM_TOKEN,
        api_key=environment("OPEN311_API_KEY"),
        # Checks the form against the live service list and definition first.
        validate_remote=True,
        lat=float(environment("REPORT_LAT")),
        lng=float(environment("REPORT_LONG")),
        description=environment("REPORT_DESCRIPTION"),
        media_url=environment("REPORT_MEDIA_URL"),
        phone=environment("REPORT_PHONE"),
        first_name=environment("REPORT_FIRST_NAME"),
        last_name=environment("REPORT_LAST_NAME"),
        attributes={"urgent": "false", "kind": "problem"},
    )
    posted = sent.response
    request_id = posted[0]["service_request_id"]
    # Without an api_key the library refuses to send at all; with a wrong
    # one the gateway refuses in the spec's error format.
    try:
        json_client.create_request(
            code,
            dry_run=False,
            confirm=CONFIRM_TOKEN,
            api_key="fg311_not-a-key",
            address_id=environment("REPORT_BLOCK"),
        )
        refused = None
    except HttpError as error:
        refused = {"status": error.status, "body": json.loads(error.body)}
    return {
        "services": services,
        "definition": definition,
        "posted": posted,
        "request": json_client.get_request(request_id),
        "open_requests": json_client.list_requests(service_code=code, status="open"),
        "refused": refused,
        "xml_services": xml_client.get_service_list(),
        "xml_definition": xml_client.get_service_definition(code),
        "xml_request": xml_client.get_service_request(request_id),
    }


def status(json_client, xml_client):
    request_id = environment("SERVICE_REQUEST_ID")
    return {
        "request": json_client.get_request(request_id),
        "closed_requests": json_client.list_requests(service_request_ids=[request_id]),
        "xml_request": xml_client.get_service_request(request_id),
    }


def main():
    json_client, xml_client = clients()
    steps = {"report": report, "status": status}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        sys.exit(f"usage: {sys.argv[0]} report|status")
    print(json.dumps(steps[sys.argv[1]](json_client, xml_client), ensure_ascii=False))


if __name__ == "__main__":
    main()
