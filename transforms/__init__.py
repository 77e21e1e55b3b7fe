"""Pure DataFrame-in, DataFrame-out steps: phones, guard times, expiry, duplicates."""
