"""The tools around the mesh: the command line, deploy rendering, the client SDK and the writers of
test bundles. Serving code lives in `services/` and never imports from here, except the gateway's use
of the client SDK (the gateway is a client of the orchestrator)."""
