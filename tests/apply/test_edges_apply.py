"""Writes to the CRM on awkward input, against the real sandbox (issue 15, "Writes to
the CRM"): a mapping the file drops goes as ``null``; one biller's failure stays that
biller's; Audit-Note values over the CRM's limits still write."""

from __future__ import annotations

from ._support import Workspace, assert_plan_document, by_bid

RED_MESA = "billers/500102-red-mesa.yaml"
FTP_BLOCK = (
    "  ftp:\n"
    "    enabled: true\n"
    "    host: sftp.redmesa.example.gov\n"
    "    username: redmesa\n"
    "    auth:\n"
    "      method: ssh_key\n"
    "      private_key: {secret: FTP_SPRINGFIELD_KEY}\n"
    '    host_key_fingerprint: "SHA256:2vYCu1ls224ZLfl2fI9CR8RmejwpgLhiJgsxdGCPfs4"\n'
)


def test_a_mapping_removed_from_the_file_is_removed_from_the_crm(ws: Workspace) -> None:
    crm = ws.start_crm()
    ws.write(RED_MESA, ws.read(RED_MESA) + FTP_BLOCK)
    first = ws.run("apply", "--bid", "500102", "--yes")
    assert first.code == 0, first
    assert crm.settings(500102)[0]["ftp"]["auth"]["method"] == "ssh_key"

    ws.write(RED_MESA, ws.read(RED_MESA).replace(FTP_BLOCK, ""))
    plan = ws.run("plan", "--bid", "500102", "--format", "json")
    assert plan.code == 2, plan
    doc = plan.json()
    assert_plan_document(doc)
    changes = {c["path"]: c for c in by_bid(doc)[500102]["changes"]}
    assert changes["ftp.auth"]["after"] is None
    assert changes["ftp.auth"]["before"] == {
        "method": "ssh_key",
        "private_key": {"secret": "FTP_SPRINGFIELD_KEY"},
    }
    applied = ws.run("apply", "--bid", "500102", "--yes")
    assert applied.code == 0, applied
    ftp = crm.settings(500102)[0]["ftp"]
    assert "auth" not in ftp, ftp  # not auth: {}
    assert "host" not in ftp and ftp["enabled"] is False
    again = ws.run("plan", "--bid", "500102")
    assert again.code == 0, again
    ws.assert_no_secret_leaks()
