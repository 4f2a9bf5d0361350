"""`unclip-mesh serve orchestrator --peer STAGE=host:port ...`: the public GenerationService."""

import sys

from services.orchestrator.stage import OrchestratorStage
from services.runtime.stage_main import serve_stage


def main(argv: list[str] | None = None) -> int:
    return serve_stage("orchestrator", argv, OrchestratorStage)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
