"""The local vulnerability database: advisories from every feed, indexed by
(ecosystem, package name), plus per-CVE enrichment (NVD, EPSS, KEV)."""
