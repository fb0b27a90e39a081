"""parsers: pure functions turning a report page (HTML bytes/text or plain text) into the canonical report."""
