"""The assessment service's work, without HTTP: scanning images from registries,
re-matching stored SBOMs, ingesting webhook events, discovery, the scheduler and the
job queue. `shoal.api` exposes it; `shoal serve` runs both (`service.runtime`)."""
