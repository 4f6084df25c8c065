"""Agents: the Coordinator that takes a Request and returns a Response, the agent loop
(model -> tools -> model), routing between agents, delegation and the commands they answer."""
