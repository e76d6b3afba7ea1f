"""What makes warm runs fast, behind one seam: ``fingerprint`` (when a cached entry
still holds), ``verdict`` (the last whole-repository validation) and ``parsed``
(parsed biller files, used only when the verdict vouches for them)."""
