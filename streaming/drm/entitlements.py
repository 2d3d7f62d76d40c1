"""Who may watch what: the entitlement store (SQLite by default) and per-token use counting.

Tokens say who is asking; entitlements say whether they may. Keeping them apart means revoking a
viewer's access works at once, without waiting for their tokens to expire. The use ledger caps how
often one token can fetch licences, so a leaked token replayed at scale is refused.
"""

from __future__ import annotations

import time
from pathlib import Path

from streamlab.streaming.drm.sqlite_store import transaction
from streamlab.streaming.drm.tokens import check_id

ANY_DEVICE = "*"


class EntitlementStore:
    CLEANUP_EVERY_S = 60.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._next_cleanup = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        with transaction(self.path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS entitlements (viewer_id TEXT NOT NULL, title_id TEXT NOT NULL, "
                "device_classes TEXT NOT NULL, expires_at REAL, PRIMARY KEY (viewer_id, title_id))"
            )
            db.execute("CREATE TABLE IF NOT EXISTS token_uses (token_id TEXT PRIMARY KEY, uses INTEGER NOT NULL, "
                       "expires_at REAL NOT NULL)")

    def grant(self, viewer_id: str, title_id: str, device_classes: tuple[str, ...] = (ANY_DEVICE,),
              expires_at: float | None = None) -> None:
        check_id("viewer id", viewer_id)
        check_id("title id", title_id)
        for device_class in device_classes:
            if device_class != ANY_DEVICE:
                check_id("device class", device_class)
        with transaction(self.path) as db:
            db.execute("INSERT OR REPLACE INTO entitlements VALUES (?, ?, ?, ?)",
                       (viewer_id, title_id, ",".join(device_classes), expires_at))

    def revoke(self, viewer_id: str, title_id: str) -> None:
        with transaction(self.path) as db:
            db.execute("DELETE FROM entitlements WHERE viewer_id = ? AND title_id = ?", (viewer_id, title_id))

    def check(self, viewer_id: str, title_id: str, device_class: str, now: float | None = None) -> str | None:
        """None when entitled, else the reason code of the refusal."""
        with transaction(self.path) as db:
            row = db.execute("SELECT device_classes, expires_at FROM entitlements WHERE viewer_id = ? AND title_id = ?",
                             (viewer_id, title_id)).fetchone()
        if row is None:
            return "not_entitled"
        devices, expires_at = row
        if expires_at is not None and (now or time.time()) > expires_at:
            return "entitlement_expired"
        allowed = devices.split(",")
        if ANY_DEVICE not in allowed and device_class not in allowed:
            return "device_not_allowed"
        return None

    def record_use(self, token_id: str, expires_at: float, max_uses: int) -> bool:
        """Count one use of a token; False once it has been used ``max_uses`` times."""
        now = time.time()
        with transaction(self.path) as db:
            if now >= self._next_cleanup:  # forget uses of long-expired tokens, now and then
                db.execute("DELETE FROM token_uses WHERE expires_at < ?", (now - 3600,))
                self._next_cleanup = now + self.CLEANUP_EVERY_S
            row = db.execute("SELECT uses FROM token_uses WHERE token_id = ?", (token_id,)).fetchone()
            uses = (row[0] if row else 0) + 1
            if uses > max_uses:
                return False
            db.execute("INSERT OR REPLACE INTO token_uses VALUES (?, ?, ?)", (token_id, uses, expires_at))
            return True
