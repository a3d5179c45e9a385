"""Vulnerability scans: match an SBOM against a vulnerability DB and build the report.

`scan_sbom(sbom, source, options)` gives a `ScanReport`; `formats` writes it as a table,
JSON (schema ``scan-1.json``), SARIF 2.1.0 or CycloneDX 1.6 with vulnerabilities;
`sbom_input` reads CycloneDX and SPDX SBOMs written by any tool.
"""
