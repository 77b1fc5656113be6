from edge_agent.cli import run

run()
