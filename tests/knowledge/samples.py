"""Small documents written for the tests, in every supported format."""

import io
import json
import zipfile

MARKDOWN = b"""---
title: Sync troubleshooting
product_line: Enterprise
updated_at: 2026-05-04
url: https://docs.example/sync
---

# Sync troubleshooting

Intro paragraph about syncing.

## Timeouts

ERR_SYNC_TIMEOUT means an upload took longer than 120 seconds. Check the proxy first.

```bash
skylark-sync --diagnose
skylark-sync --resume
```

| Code | Meaning |
|---|---|
| E2051 | Storage full |
| E1042 | Session expired |
"""

RST = b"""Account guide
=============

Signing in
----------

Use your work e-mail address. Error E1042 means the session expired.

::

    skylark-sync --login

Storage
-------

The Pro plan pools 2 TB per member.
"""

HTML = b"""<html><head><title>Guest access</title><script>alert('x')</script></head>
<body><nav>Home | Docs</nav><h1>Guest access</h1><p>Guests can view and edit shared folders.</p>
<h2>Limits</h2><table><tr><th>Plan</th><th>Guests</th></tr><tr><td>Pro</td><td>50</td></tr></table>
<pre>skylark-sync guests --list</pre></body></html>"""

TEXT = b"Version history\n\nPro keeps 30 days of history.\n\nEnterprise keeps 365 days."


def pdf(lines: list[str], title: str = "") -> bytes:
    """A minimal, valid one-page PDF with the given text lines (Helvetica)."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = " ".join(f"({esc(line)}) Tj 0 -16 Td" for line in lines)
    content = f"BT /F1 12 Tf 72 720 Td {ops} ET"
    info = f"<< /Title ({esc(title)}) >>" if title else "<< >>"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info,
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>"
    out += f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def jsonl(records: list) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
