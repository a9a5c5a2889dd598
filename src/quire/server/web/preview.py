from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Preview:
    kind: str
    html: Markup
    truncated: bool = False
    table: object = None


def preview(blobs, manifest, entry, *, raw_url, page=0, sort=None, descending=False, sort_url=None, page_url=None):
    data = blobs.read(entry.digest)[:4096]
    return Preview("text", Markup("<pre>") + escape(data.decode("utf-8", "replace")) + Markup("</pre>"))
