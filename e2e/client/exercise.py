"""Adoption check: a Python team uses a client generated from openapi/openapi.json.

Everything goes through the generated, typed API functions and models (no raw HTTP):
create a record in dataset 100 (201, an id), read it back by id, update it with
PATCH /datasets/100/records/{id} (200; set a field, clear one with null, append to the notes),
read it again to see the change, list the dataset with `limit` and the `search[last_name]`
filter, and check that a mistake comes back as a typed problem (422, validation_failed).

Then the dialler side, as a contact-centre app would use it: list the outcome codes (typed
booleans, at least one `complete`), the campaigns and a campaign's fields (each with its
`gateway_name`), list the datasets (typed models, the `status` filter), create a dataset on the
queue of dataset 100 (status hold, 201 and the dataset as read back), put it live with
PATCH /datasets/{id}, create a record in it with a callback (callback_at + callback_notes), read
the callback back, set an outcome whose `complete` is true with `Prefer: return=representation`
(the record as read back: that outcome, process_type COMPLETE), and see the next update answer
`live: false`. The token limited to dataset 100 is refused POST /datasets (403): creating
datasets and putting them live is the separate `datasets:write` right.

Environment: E2E_BASE_URL (e.g. http://127.0.0.1:18080), E2E_CLIENT_TOKEN (a JWT with
records:read records:write, limited to dataset 100) and E2E_DATASETS_TOKEN (a JWT with
records:read records:write datasets:write and no dataset or table limits). Exit code 0 when
every check held; 1 with the reason otherwise.
"""

from __future__ import annotations

import datetime
import inspect
import os
import sys
import traceback
import uuid
from http import HTTPStatus
from typing import Any, TypeVar, cast

import ecnow_gateway_client.models as _models
import httpx
from ecnow_gateway_client import AuthenticatedClient
from ecnow_gateway_client.api.campaigns import list_campaign_fields, list_campaigns
from ecnow_gateway_client.api.datasets import (
    create_dataset,
    get_dataset,
    list_datasets,
    update_dataset,
)
from ecnow_gateway_client.api.outcomes import list_outcome_codes
from ecnow_gateway_client.api.records import (
    create_records,
    get_dataset_record,
    list_dataset_records,
    update_dataset_record,
)
from ecnow_gateway_client.models import (
    CampaignField,
    CampaignList,
    CreatedRecord,
    Dataset,
    DatasetList,
    DatasetPatch,
    DatasetRecordPatchBody,
    DatasetStatus,
    FieldList,
    ListDatasetRecordsMatch,
    NewDataset,
    NewRecordBody,
    OutcomeCode,
    OutcomeCodeList,
    Problem,
    Record,
    RecordList,
    UpdatedRecord,
)
from ecnow_gateway_client.types import Response

DATASET = 100
TIMEOUT = httpx.Timeout(15.0)
# The process type ContactNow gives a record whose outcome is a `complete` one.
COMPLETE_PROCESS_TYPE = "COMPLETE"
OUTCOME_FLAGS = ("complete", "dmc", "sale", "do_not_call", "answerphone")
FIELD_FLAGS = ("required", "read_only", "hidden", "searchable", "standard")
done: list[str] = []


class CheckFailed(Exception):
    pass


def check(cond: bool, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


Model = TypeVar("Model")


def expect(resp: Response[Any], status: int, model: type[Model], what: str) -> Model:
    """`resp.parsed`, after checking the status and that it is a `model` (typed for mypy)."""
    body = resp.content.decode("utf-8", "replace")
    check(
        resp.status_code == status,
        f"{what}: expected {status}, got {int(resp.status_code)}: {body}",
    )
    check(
        isinstance(resp.parsed, model),
        f"{what}: expected a {model.__name__}, got {type(resp.parsed).__name__}: {body}",
    )
    return cast(Model, resp.parsed)


def custom_model() -> Any:
    """The model of NewRecordBody.custom. Its name comes from the schema (`type: [object, null]`
    makes it `NewRecordBodyCustomType0`), so take whatever the generator called it."""
    for name in dir(_models):
        if name.startswith("NewRecordBodyCustom"):
            return getattr(_models, name)()
    raise CheckFailed("the generated client has no model for NewRecordBody.custom")


def search_kwarg() -> str | None:
    """The generated name of the `search[last_name]` query parameter, if there is one."""
    params = inspect.signature(list_dataset_records.sync_detailed).parameters
    for name in params:
        if "search" in name and "last_name" in name:
            return name
    return None


def run(base_url: str, token: str) -> None:
    client = AuthenticatedClient(base_url=base_url, token=token, timeout=TIMEOUT)
    suffix = uuid.uuid4().hex[:8]
    last_name = f"Adopter{suffix}"
    new_last_name = f"Adopted{suffix}"

    with client as client:
        # 1. create
        custom = custom_model()
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
        # Passed by the name the generator chose (found above), so not checked by mypy.
        search: dict[str, Any] = {kw: new_last_name}
        page = expect(
            list_dataset_records.sync_detailed(DATASET, client=client, limit=5, match=ListDatasetRecordsMatch.EXACT, **search),
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


def check_flags(item: object, names: tuple[str, ...], what: str) -> None:
    """Each of `names` on `item` is a real bool: the gateway turned ContactNow's Y/N and 0/1 into
    JSON booleans (the generated models do not convert or check types themselves)."""
    for name in names:
        value = getattr(item, name)
        check(isinstance(value, bool), f"{what}: {name} is {value!r} ({type(value).__name__}), not a bool")


def run_dialler(base_url: str, token: str, limited_token: str) -> None:
    """Datasets, campaigns, outcome codes, callbacks and outcomes with a `datasets:write` token."""
    suffix = uuid.uuid4().hex[:8]
    with AuthenticatedClient(base_url=base_url, token=token, timeout=TIMEOUT) as client:
        # 7. outcome codes: typed booleans, and a `complete` one to set later
        codes = expect(
            list_outcome_codes.sync_detailed(client=client),
            HTTPStatus.OK,
            OutcomeCodeList,
            "GET /outcome-codes",
        ).outcome_codes
        check(len(codes) > 0, "GET /outcome-codes: no outcome codes")
        for code in codes:
            check(isinstance(code, OutcomeCode), f"GET /outcome-codes: {code!r} is not a typed OutcomeCode")
            check(
                isinstance(code.code, int) and not isinstance(code.code, bool) and code.code > 0,
                f"GET /outcome-codes: code {code.code!r} is not a positive integer",
            )
            check_flags(code, OUTCOME_FLAGS, f"GET /outcome-codes: code {code.code}")
        complete = [code for code in codes if code.complete]
        check(len(complete) > 0, f"GET /outcome-codes: no code has complete=true: {[c.to_dict() for c in codes]}")
        check(
            any(not code.complete for code in codes),
            "GET /outcome-codes: every code is complete; the sandbox lists open ones too",
        )
        outcome = complete[0]
        done.append(
            f"GET /outcome-codes -> 200, {len(codes)} typed OutcomeCodes with bool flags; "
            f"{len(complete)} complete (using {outcome.code} {outcome.description!r})"
        )

        # 8. datasets: typed models; dataset 100 is there with its campaign and queue
        listed = expect(
            list_datasets.sync_detailed(client=client),
            HTTPStatus.OK,
            DatasetList,
            "GET /datasets",
        ).datasets
        by_id = {dataset.id: dataset for dataset in listed}
        check(DATASET in by_id, f"GET /datasets: dataset {DATASET} missing from {sorted(by_id)}")
        for dataset in listed:
            check(isinstance(dataset, Dataset), f"GET /datasets: {dataset!r} is not a typed Dataset")
            check(
                isinstance(dataset.status, DatasetStatus),
                f"GET /datasets: dataset {dataset.id} status {dataset.status!r} is not a DatasetStatus",
            )
            check(
                isinstance(dataset.queue_id, int) and dataset.queue_id > 0,
                f"GET /datasets: dataset {dataset.id} queue_id {dataset.queue_id!r}",
            )
            check(
                isinstance(dataset.locked, bool),
                f"GET /datasets: dataset {dataset.id} locked {dataset.locked!r} is not a bool",
            )
            check(
                isinstance(dataset.priority, int) and 0 <= dataset.priority <= 90,
                f"GET /datasets: dataset {dataset.id} priority {dataset.priority!r} is not 0 to 90",
            )
        source = by_id[DATASET]
        if not isinstance(source.campaign, str) or source.campaign == "":
            raise CheckFailed(f"GET /datasets: dataset {DATASET} has no campaign: {source.to_dict()}")
        campaign = source.campaign
        done.append(
            f"GET /datasets -> 200, {len(listed)} typed Datasets; {DATASET} is "
            f"{source.status.value} in campaign {campaign}, queue {source.queue_id}"
        )

        # 9. campaigns and the fields of dataset 100's campaign, each with its gateway_name
        tables = [
            listed_campaign.table
            for listed_campaign in expect(
                list_campaigns.sync_detailed(client=client),
                HTTPStatus.OK,
                CampaignList,
                "GET /campaigns",
            ).campaigns
        ]
        check(
            campaign in tables,
            f"GET /campaigns: {tables} does not list dataset {DATASET}'s campaign {campaign!r}",
        )
        fields = expect(
            list_campaign_fields.sync_detailed(campaign, client=client),
            HTTPStatus.OK,
            FieldList,
            f"GET /campaigns/{campaign}/fields",
        ).fields
        check(len(fields) > 0, f"GET /campaigns/{campaign}/fields: no fields")
        for field in fields:
            what = f"GET /campaigns/{campaign}/fields: {field.name!r}"
            check(isinstance(field, CampaignField), f"{what} is not a typed CampaignField")
            check(isinstance(field.gateway_name, str) and field.gateway_name != "", f"{what} has no gateway_name")
            check_flags(field, FIELD_FLAGS, what)
        gateway_names = {field.gateway_name for field in fields}
        check(
            "mobile_phone" in gateway_names,
            f"GET /campaigns/{campaign}/fields: no field has gateway_name mobile_phone: {sorted(gateway_names)}",
        )
        custom_names = sorted(name for name in gateway_names if name.startswith("custom."))
        check(
            "custom.company_name" in custom_names,
            f"GET /campaigns/{campaign}/fields: custom.company_name (written in step 1) missing from {custom_names}",
        )
        done.append(
            f"GET /campaigns -> {tables}; GET /campaigns/{campaign}/fields -> {len(fields)} typed fields, "
            f"gateway_name on each (mobile_phone, {', '.join(custom_names)})"
        )

        # 10. create a dataset on dataset 100's queue: on hold, read back
        description = f"Adoption {suffix}"
        made = create_dataset.sync_detailed(
            client=client,
            body=NewDataset(queue_id=source.queue_id, description=description, status=DatasetStatus.HOLD),
        )
        created = expect(made, HTTPStatus.CREATED, Dataset, "POST /datasets")
        check(created.id > 0 and created.id not in by_id, f"POST /datasets: id {created.id!r} is not new")
        check(created.status == DatasetStatus.HOLD, f"POST /datasets: status {created.status!r}, expected hold")
        check(created.queue_id == source.queue_id, f"POST /datasets: queue_id {created.queue_id!r}")
        check(created.description == description, f"POST /datasets: description {created.description!r}")
        check(
            created.campaign == campaign,
            f"POST /datasets: campaign {created.campaign!r}, expected the queue's {campaign!r}",
        )
        location = made.headers.get("location")
        check(location == f"/datasets/{created.id}", f"POST /datasets: Location header {location!r}")
        new_id = created.id
        done.append(f"POST /datasets (queue {source.queue_id}, hold) -> 201, dataset {new_id}, Location {location}")

        # 11. put it live, and see it read back live
        live = expect(
            update_dataset.sync_detailed(new_id, client=client, body=DatasetPatch(status=DatasetStatus.LIVE)),
            HTTPStatus.OK,
            Dataset,
            f"PATCH /datasets/{new_id}",
        )
        check(live.id == new_id, f"PATCH /datasets/{new_id}: id {live.id!r}")
        check(live.status == DatasetStatus.LIVE, f"PATCH /datasets/{new_id}: status {live.status!r}, expected live")
        check(live.description == description, f"PATCH /datasets/{new_id}: description {live.description!r} changed")
        again = expect(
            get_dataset.sync_detailed(new_id, client=client),
            HTTPStatus.OK,
            Dataset,
            f"GET /datasets/{new_id}",
        )
        check(again.status == DatasetStatus.LIVE, f"GET /datasets/{new_id}: status {again.status!r}, expected live")
        live_ids = [
            dataset.id
            for dataset in expect(
                list_datasets.sync_detailed(client=client, status=DatasetStatus.LIVE),
                HTTPStatus.OK,
                DatasetList,
                "GET /datasets?status=live",
            ).datasets
        ]
        check(new_id in live_ids, f"GET /datasets?status=live: {new_id} missing from {live_ids}")
        check(
            all(by_id[i].status == DatasetStatus.LIVE for i in live_ids if i in by_id),
            f"GET /datasets?status=live: lists datasets that are not live: {live_ids}",
        )
        done.append(f"PATCH /datasets/{new_id} status live -> 200 live; GET /datasets/{new_id} and ?status=live agree")

        # 12. a record with a callback in the new dataset
        callback_at = (datetime.date.today() + datetime.timedelta(days=1)).isoformat() + "T10:15:00"
        callback_notes = f"Call after ten ({suffix})"
        added = create_records.sync_detailed(
            new_id,
            client=client,
            body=NewRecordBody(
                first_name="Cal",
                last_name=f"Back{suffix}",
                mobile_phone="07700 900456",
                callback_at=callback_at,
                callback_notes=callback_notes,
            ),
        )
        record = expect(added, HTTPStatus.CREATED, CreatedRecord, f"POST /datasets/{new_id}/records")
        check(record.dataset_id == new_id, f"POST /datasets/{new_id}/records: dataset_id {record.dataset_id!r}")
        check(record.live is True, f"POST /datasets/{new_id}/records: live {record.live!r} in a live dataset")
        rid = record.id
        done.append(f"POST /datasets/{new_id}/records with callback_at {callback_at} -> 201, id {rid}, live")

        # 13. the callback reads back as sent
        rec = expect(
            get_dataset_record.sync_detailed(new_id, rid, client=client),
            HTTPStatus.OK,
            Record,
            f"GET /datasets/{new_id}/records/{rid}",
        )
        check(rec.callback_at == callback_at, f"read: callback_at {rec.callback_at!r}, expected {callback_at!r}")
        check(rec.callback_notes == callback_notes, f"read: callback_notes {rec.callback_notes!r}")
        check(
            rec.outcome_code != outcome.code and rec.process_type != COMPLETE_PROCESS_TYPE,
            f"read: a new record is already complete (outcome {rec.outcome_code!r}, {rec.process_type!r})",
        )
        done.append(f"read -> callback_at {rec.callback_at}, callback_notes kept, outcome {rec.outcome_code} ({rec.process_type})")

        # 14. a complete outcome, answered with the record as read back
        closed = update_dataset_record.sync_detailed(
            new_id,
            rid,
            client=client,
            body=DatasetRecordPatchBody(outcome_code=outcome.code),
            prefer="return=representation",
        )
        done_rec = expect(closed, HTTPStatus.OK, Record, f"PATCH /datasets/{new_id}/records/{rid} outcome {outcome.code}")
        applied = closed.headers.get("preference-applied")
        check(applied == "return=representation", f"PATCH with Prefer: Preference-Applied {applied!r}")
        check(done_rec.id == rid, f"PATCH with Prefer: id {done_rec.id!r}")
        check(
            done_rec.outcome_code == outcome.code,
            f"PATCH with Prefer: outcome_code {done_rec.outcome_code!r}, expected {outcome.code}",
        )
        check(
            done_rec.process_type == COMPLETE_PROCESS_TYPE,
            f"PATCH with Prefer: process_type {done_rec.process_type!r}, expected {COMPLETE_PROCESS_TYPE!r}",
        )
        check(done_rec.callback_at == callback_at, f"PATCH with Prefer: callback_at {done_rec.callback_at!r} lost")
        done.append(
            f"PATCH outcome_code {outcome.code} + Prefer: return=representation -> 200 typed Record, "
            f"outcome {done_rec.outcome_code}, process_type {done_rec.process_type}, Preference-Applied"
        )

        # 15. the record is off the dialler: the short answer says live false
        short = expect(
            update_dataset_record.sync_detailed(
                new_id, rid, client=client, body=DatasetRecordPatchBody(notes_append="Closed")
            ),
            HTTPStatus.OK,
            UpdatedRecord,
            f"PATCH /datasets/{new_id}/records/{rid} notes_append",
        )
        check(short.live is False, f"PATCH after a complete outcome: live {short.live!r}, expected False ({short.info!r})")
        done.append(f"PATCH notes_append -> 200 UpdatedRecord live false ({short.info!r})")

    # 16. creating datasets is its own right: the records-only token is refused
    with AuthenticatedClient(base_url=base_url, token=limited_token, timeout=TIMEOUT) as limited:
        problem = expect(
            create_dataset.sync_detailed(client=limited, body=NewDataset(queue_id=source.queue_id)),
            HTTPStatus.FORBIDDEN,
            Problem,
            "POST /datasets with a records-only token",
        )
        check(problem.code == "forbidden", f"POST /datasets with a records-only token: code {problem.code!r}")
        done.append("POST /datasets with the records-only token -> 403, typed Problem code forbidden")


def main() -> int:
    base_url = os.environ.get("E2E_BASE_URL", "").rstrip("/")
    token = os.environ.get("E2E_CLIENT_TOKEN", "").strip()
    datasets_token = os.environ.get("E2E_DATASETS_TOKEN", "").strip()
    if not base_url or not token or not datasets_token:
        print("client: E2E_BASE_URL, E2E_CLIENT_TOKEN and E2E_DATASETS_TOKEN must be set", file=sys.stderr)
        return 2
    try:
        run(base_url, token)
        run_dialler(base_url, datasets_token, token)
    except CheckFailed as e:
        for line in done:
            print(f"client: ok   {line}")
        print(f"client: FAIL {e}", file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 (any failure of the generated client is a failed check)
        # The generated client itself failed (an answer its models cannot parse, a timeout).
        for line in done:
            print(f"client: ok   {line}")
        print("client: FAIL the generated client raised, after the steps above:", file=sys.stderr)
        traceback.print_exc()
        return 1
    for line in done:
        print(f"client: ok   {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
