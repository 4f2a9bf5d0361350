"""A generations call with no bearer token, as an app that forgot its key makes it."""

import json
import urllib.error
import urllib.request

import pytest


def refused_without_token(base_url: str, timeout: float) -> urllib.error.HTTPError:
    """POST /images/generations with no Authorization header; the HTTP error it gets back."""
    request = urllib.request.Request(
        base_url + "/images/generations",
        method="POST",
        data=json.dumps({"prompt": "a red circle"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=timeout)
    return refused.value
