"""OSS-shaped XML: the document builder, the ``<Error>`` body, and the request bodies the
server parses (CompleteMultipartUpload)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .wire import Fail

__all__ = ["XML_DECL", "error_xml", "parse_complete", "sub", "to_xml"]

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


def to_xml(root: ET.Element) -> bytes:
    # Errors echo what the request sent (a signature, a key): bytes that were not UTF-8
    # arrive as surrogates and become "?" here rather than failing the answer.
    return (XML_DECL + ET.tostring(root, encoding="unicode")).encode("utf-8", "replace")


def sub(parent: ET.Element, tag: str, text: str | int | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el



def error_xml(fail: Fail, request_id: str, host_id: str) -> bytes:
    """``<Error><Code/><Message/><RequestId/><HostId/>...</Error>`` for a failure."""
    root = ET.Element("Error")
    sub(root, "Code", fail.code)
    sub(root, "Message", fail.message)
    sub(root, "RequestId", request_id)
    sub(root, "HostId", host_id)
    for k, v in fail.extra.items():
        sub(root, k, v)
    return to_xml(root)


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    try:
        root = ET.fromstring(body)
        if root.tag != "CompleteMultipartUpload":
            raise ValueError(root.tag)
        return [(int(p.findtext("PartNumber") or ""), p.findtext("ETag") or "")
                for p in root.findall("Part")]
    except (ET.ParseError, ValueError):
        raise Fail(400, "MalformedXML", "The XML you provided was not well-formed or did not "
                    "validate against our published schema.") from None

