from tests.unit.service.views.seed import api, enriched_vulndb, vctx, world

__all__ = ["api", "enriched_vulndb", "vctx", "world"]
