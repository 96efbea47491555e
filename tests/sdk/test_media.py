"""Media through the official Python SDK 5.x: the SDK uploads a `LangfuseMedia` attachment the
way real applications do (upload URL, PUT with the checksum header, upload status); the
migrator copies the project; the target then serves the same bytes through
`GET /api/public/media/{id}`. The expected bytes are the ones this test made."""

import base64
import hashlib
import json
import os
import tempfile

import httpx
from langfuse import Langfuse
from langfuse.media import LangfuseMedia

from conftest import migrator_cli, migrator_env, migrator_plan

# A 1×1 PNG plus a few bytes of its own, so the content is this test's.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a7d9e1"
    "3f0000000049454e44ae426082"
) + b"sdk-media-test"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def client(sb):
    return Langfuse(
        public_key=sb.public_key,
        secret_key=sb.secret_key,
        base_url=sb.url,
        flush_at=1000,
        flush_interval=60,
    )


def write_multimodal_trace(lf):
    image = LangfuseMedia(content_bytes=PNG, content_type="image/png")
    doc = LangfuseMedia(content_bytes=PDF, content_type="application/pdf")
    with lf.start_as_current_observation(
        as_type="span", name="describe-image", input={"question": "What is this?", "image": image}
    ) as span:
        span.update(output={"answer": "a dot", "report": doc})
        trace_id = span.trace_id
    lf.flush()
    return trace_id


def references(value):
    """Media ids in every reference string of a JSON value."""
    text = json.dumps(value)
    ids = []
    for part in text.split("@@@langfuseMedia:")[1:]:
        body = part.split("@@@")[0]
        ids += [kv[3:] for kv in body.split("|") if kv.startswith("id=")]
    return ids


def migrate(source, target):
    with tempfile.TemporaryDirectory() as d:
        plan = os.path.join(d, "plan.toml")
        with open(plan, "w") as f:
            f.write(migrator_plan(source, target))
        out = migrator_cli("run", "--plan", plan, "--json", "--data-dir", os.path.join(d, "data"),
                           env=migrator_env(source, target))
        assert out.returncode == 0, out.stdout + out.stderr
        report = json.loads(out.stdout)
        assert report["failures"] == [], report
        return report


def test_media_the_sdk_uploaded_is_served_by_the_target_after_a_copy(start_sandbox):
    source = start_sandbox("--profile", "v4", "--visibility-delay-ms", "0")
    target = start_sandbox("--profile", "v4", "--visibility-delay-ms", "0")
    src = client(source)
    trace_id = write_multimodal_trace(src)
    # The SDK uploaded both files to the source.
    for content in (PNG, PDF):
        digest = hashlib.sha256(content).digest()
        media_id = base64.urlsafe_b64encode(digest).decode()[:22]
        got = src.api.media.get(media_id)
        assert got.content_length == len(content)

    report = migrate(source, target)
    assert report["entities"]["media"]["written"] == 2, report

    dst = client(target)
    obs = dst.api.observations.get_many(trace_id=trace_id, fields="core,io", limit=50)
    ids = sorted({i for o in obs.data for i in references([o.input, o.output])})
    assert len(ids) == 2, [o.input for o in obs.data]
    served = {}
    for media_id in ids:
        record = dst.api.media.get(media_id)
        body = httpx.get(record.url, timeout=10).content
        served[record.content_type] = body
    assert hashlib.sha256(served["image/png"]).hexdigest() == hashlib.sha256(PNG).hexdigest()
    assert served["application/pdf"] == PDF
    src.shutdown()
    dst.shutdown()
