"""Administrative procedures without paper: catalogue, runner, report and HTTP API (issue 6)."""
