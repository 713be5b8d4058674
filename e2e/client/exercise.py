"""Adoption check: a Python team uses a client generated from openapi/openapi.json.

Everything goes through the generated, typed API functions and models (no raw HTTP):
create a record in dataset 100 (201, an id), read it back by id, update it with
PATCH /datasets/100/records/{id} (200; set a field, clear one with null, append to the notes),
read it again to see the change, list the dataset with `limit` and the `search[last_name]`
filter, and check that a mistake comes back as a typed problem (422, validation_failed).

Environment: E2E_BASE_URL (e.g. http://127.0.0.1:18080) and E2E_CLIENT_TOKEN (a JWT with
records:read records:write). Exit code 0 when every check held; 1 with the reason otherwise.
"""

from __future__ import annotations

import inspect
import os
import sys
import uuid
from http import HTTPStatus

import ecnow_gateway_client.models as _models
from ecnow_gateway_client import AuthenticatedClient
from ecnow_gateway_client.api.records import (
    create_records,
    get_dataset_record,
    list_dataset_records,
    update_dataset_record,
)
from ecnow_gateway_client.models import (
    CreatedRecord,
    ListDatasetRecordsMatch,
    NewRecordBody,
    Problem,
    Record,
    RecordList,
    DatasetRecordPatchBody,
    UpdatedRecord,
)

DATASET = 100
done: list[str] = []


class CheckFailed(Exception):
    pass


def check(cond: bool, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


def expect(resp, status: int, model: type, what: str):
    body = resp.content.decode("utf-8", "replace")
    check(
        resp.status_code == status,
        f"{what}: expected {status}, got {int(resp.status_code)}: {body}",
    )
    check(
        isinstance(resp.parsed, model),
        f"{what}: expected a {model.__name__}, got {type(resp.parsed).__name__}: {body}",
    )
    return resp.parsed


def custom_model():
    """The model of NewRecordBody.custom. Its name comes from the schema (`type: [object, null]`
    makes it `NewRecordBodyCustomType0`), so take whatever the generator called it."""
    for name in dir(_models):
        if name.startswith("NewRecordBodyCustom"):
            return getattr(_models, name)
    raise CheckFailed("the generated client has no model for NewRecordBody.custom")


def search_kwarg() -> str | None:
    """The generated name of the `search[last_name]` query parameter, if there is one."""
    params = inspect.signature(list_dataset_records.sync_detailed).parameters
    for name in params:
        if "search" in name and "last_name" in name:
            return name
    return None


def run(base_url: str, token: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=token, timeout=15.0)
    suffix = uuid.uuid4().hex[:8]
    last_name = f"Adopter{suffix}"
    new_last_name = f"Adopted{suffix}"

    with client as client:
        # 1. create
        custom = custom_model()()
        custom["company_name"] = "Typed Clients Ltd"
        body = NewRecordBody(
            title="Ms",
            first_name="Ada",
            last_name=last_name,
            mobile_phone="07700 900123",
            postcode="AB1 2CD",
            custom=custom,
        )
        resp = create_records.sync_detailed(DATASET, client=client, body=body)
        created = expect(resp, HTTPStatus.CREATED, CreatedRecord, "create")
        check(isinstance(created.id, int) and created.id > 0, f"create: bad id {created.id!r}")
        check(created.dataset_id == DATASET, f"create: dataset_id {created.dataset_id!r}")
        location = resp.headers.get("location")
        check(
            location == f"/datasets/{DATASET}/records/{created.id}",
            f"create: Location header {location!r}",
        )
        rid = created.id
        done.append(f"create -> 201, id {rid}, Location {location}")

        # 2. read back
        rec = expect(
            get_dataset_record.sync_detailed(DATASET, rid, client=client),
            HTTPStatus.OK,
            Record,
            "read",
        )
        check(rec.id == rid and rec.dataset_id == DATASET, f"read: id/dataset {rec.id}/{rec.dataset_id}")
        for field, want in [
            ("title", "Ms"),
            ("first_name", "Ada"),
            ("last_name", last_name),
            ("mobile_phone", "07700 900123"),
            ("postcode", "AB1 2CD"),
        ]:
            got = getattr(rec, field)
            check(got == want, f"read: {field} is {got!r}, expected {want!r}")
        check(
            rec.custom.additional_properties.get("company_name") == "Typed Clients Ltd",
            f"read: custom is {rec.custom.to_dict()!r}",
        )
        done.append("read by id -> 200, typed Record with the fields sent")

        # 3. update: set a field, clear one with null, append to the notes
        patch = DatasetRecordPatchBody(last_name=new_last_name, postcode=None, notes_append="Called back")
        upd = expect(
            update_dataset_record.sync_detailed(DATASET, rid, client=client, body=patch),
            HTTPStatus.OK,
            UpdatedRecord,
            "update",
        )
        check(upd.id == rid, f"update: id {upd.id!r}, expected {rid}")
        done.append("PATCH /datasets/100/records/{id} -> 200 (set last_name, postcode null, notes_append)")

        # 4. read again
        rec2 = expect(
            get_dataset_record.sync_detailed(DATASET, rid, client=client),
            HTTPStatus.OK,
            Record,
            "read after update",
        )
        check(rec2.last_name == new_last_name, f"read after update: last_name {rec2.last_name!r}")
        check(rec2.postcode is None, f"read after update: postcode {rec2.postcode!r}, expected None")
        check(
            isinstance(rec2.notes, str) and "Called back" in rec2.notes,
            f"read after update: notes {rec2.notes!r}",
        )
        check(rec2.first_name == "Ada", f"read after update: first_name {rec2.first_name!r} changed")
        done.append("read again -> last_name changed, postcode null, notes appended, rest kept")

        # 5. list with limit and search[last_name]
        kw = search_kwarg()
        if kw is None:
            raise CheckFailed(
                "the generated list_dataset_records has no parameter for search[last_name]: "
                f"{list(inspect.signature(list_dataset_records.sync_detailed).parameters)}"
            )
        page = expect(
            list_dataset_records.sync_detailed(DATASET, client=client, limit=5, match=ListDatasetRecordsMatch.EXACT, **{kw: new_last_name}),
            HTTPStatus.OK,
            RecordList,
            "list with search",
        )
        ids = [r.id for r in page.records]
        check(page.total == 1 and ids == [rid], f"list with search: total {page.total}, ids {ids}, expected [{rid}]")
        check(isinstance(page.records[0], Record), "list: records are not typed Records")
        page = expect(
            list_dataset_records.sync_detailed(DATASET, client=client, limit=1),
            HTTPStatus.OK,
            RecordList,
            "list with limit",
        )
        check(len(page.records) == 1, f"list with limit=1: {len(page.records)} records")
        check(page.total >= 2, f"list with limit=1: total {page.total}, expected every match (>= 2)")
        done.append(
            f"list search[last_name] (generated argument `{kw}`), match=exact, limit=5 -> exactly that record; "
            f"limit=1 -> 1 record, total {page.total}"
        )

        # 6. a mistake is a typed problem
        bad = NewRecordBody(first_name="NoPhone")
        problem = expect(
            create_records.sync_detailed(DATASET, client=client, body=bad),
            HTTPStatus.UNPROCESSABLE_ENTITY,
            Problem,
            "create without a phone",
        )
        check(problem.code == "validation_failed", f"create without a phone: code {problem.code!r}")
        done.append("create without a phone -> 422, typed Problem code validation_failed")


def main() -> int:
    base_url = os.environ.get("E2E_BASE_URL", "").rstrip("/")
    token = os.environ.get("E2E_CLIENT_TOKEN", "").strip()
    if not base_url or not token:
        print("client: E2E_BASE_URL and E2E_CLIENT_TOKEN must be set", file=sys.stderr)
        return 2
    try:
        run(base_url, token)
    except CheckFailed as e:
        for line in done:
            print(f"client: ok   {line}")
        print(f"client: FAIL {e}", file=sys.stderr)
        return 1
    for line in done:
        print(f"client: ok   {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
