"""What downstream tools read besides SQL: exports of the canonical stories."""
