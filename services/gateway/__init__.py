"""An OpenAI Images API gateway (DALL-E 2's generations, variations and edits) in front of the
orchestrator: its own process, HTTP in, gRPC out (docs/API.md)."""
