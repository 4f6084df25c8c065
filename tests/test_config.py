"""config.yml, mcp.yml and the environment (src/config/, src/toolservers/config.py): what loads,
how ${VAR}s expand, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.config import Config, load_config, read_environment
from src.errors import ConfigError
from src.toolservers.config import load_mcp_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "config.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={} if env is None else env)
    return caught.value


# -- load_config --------------------------------------------------------------------------


def test_a_minimal_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "llm:\n  api_key: sk-test\n"), env={})
    assert config.llm.api_key.get_secret_value() == "sk-test"
    assert config == Config.model_validate({"llm": {"api_key": "sk-test"}})
    assert config.store.type == "file"
    assert config.agents.get(config.agents.default).name == "assistant"
    assert "sk-test" not in repr(config)
    vision = config.vision  # off when the key is absent, as before it existed
    assert (vision.enabled, vision.max_image_mb, vision.keep_turns, vision.detail) == (
        False,
        10,
        2,
        "auto",
    )


def test_variables_are_expanded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "llm:\n"
        "  api_key: ${KEY}\n"
        "  base_url: ${BASE:-http://localhost:1234/v1}\n"
        "  model: ${MODEL:-fallback}\n"
        "telegram:\n"
        "  bot_token: prefix-${TOKEN}-${TOKEN}\n"
        "  api_base_url: ${EMPTY:-}\n"
        "agents:\n"
        "  list:\n"
        "    - name: assistant\n"
        "      system_prompt: 'Call me ${NAME:-Ada}, literally $NAME and $${x'\n",
    )
    config = load_config(path, env={"KEY": "sk-1", "TOKEN": "t", "MODEL": ""})
    assert config.llm.api_key.get_secret_value() == "sk-1"
    assert config.llm.base_url == "http://localhost:1234/v1"
    assert config.llm.model == "fallback"  # set but empty takes the default
    assert config.telegram.bot_token.get_secret_value() == "prefix-t-t"
    assert config.telegram.api_base_url == ""
    assert config.agents.list[0].system_prompt == "Call me Ada, literally $NAME and $${x"


def test_an_empty_variable_without_a_default_stays_empty(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "llm:\n  api_key: x${EMPTY}\n"), env={"EMPTY": ""})
    assert config.llm.api_key.get_secret_value() == "x"


def test_a_missing_variable_names_the_key_and_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  api_key: ${OPENAI_API_KEY}\n")
    error = config_error(path)
    assert error.key == "llm.api_key"
    assert "OPENAI_API_KEY" in str(error)
    assert str(error).startswith(f"{path}: llm.api_key: ")


def test_a_missing_variable_inside_a_list_names_the_index(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  api_key: k\nagents:\n  list:\n    - name: ${AGENT}\n")
    error = config_error(path)
    assert error.key == "agents.list[0].name"
    assert "AGENT" in error.message


def test_an_unknown_key_is_named(tmp_path: Path) -> None:
    error = config_error(write(tmp_path, "llm:\n  api_key: k\n  temprature: 0.5\n"))
    assert (error.key, error.message) == ("llm.temprature", "unknown key")
    error = config_error(write(tmp_path, "llm:\n  api_key: k\nstorage: {}\n"))
    assert (error.key, error.message) == ("storage", "unknown key")
    error = config_error(write(tmp_path, "llm:\n  api_key: k\nstore:\n  file:\n    fsynk: true\n"))
    assert (error.key, error.message) == ("store.file.fsynk", "unknown key")


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("telegram:\n  poll_timeout_s: soon\n", "telegram.poll_timeout_s"),
        ("telegram:\n  poll_timeout_s: 51\n", "telegram.poll_timeout_s"),
        ("telegram:\n  allowed_user_ids: [1, bob]\n", "telegram.allowed_user_ids.1"),
        ("store:\n  type: postgres\n", "store.type"),
        ("health:\n  port: 70000\n", "health.port"),
        ("conversation: []\n", "conversation"),
        ("agents:\n  list:\n    - name: Bad Name\n", "agents.list.0.name"),
        ("vision:\n  detail: medium\n", "vision.detail"),
        ("vision:\n  keep_turns: -2\n", "vision.keep_turns"),
        ("vision:\n  max_image_mb: 50\n", "vision.max_image_mb"),
    ],
)
def test_a_wrong_type_or_value_names_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    error = config_error(write(tmp_path, "llm:\n  api_key: k\n" + yaml_text))
    assert error.key == key
    assert str(error).startswith(f"{tmp_path / 'config.yml'}: {key}: ")


def test_a_missing_api_key_is_required(tmp_path: Path) -> None:
    error = config_error(write(tmp_path, "llm:\n  model: gpt-4o-mini\n"))
    assert (error.key, error.message) == ("llm.api_key", "field required")
    error = config_error(write(tmp_path, "telegram: {}\n"))
    assert (error.key, error.message) == ("llm", "field required")
    error = config_error(write(tmp_path, ""))
    assert (error.key, error.message) == ("llm", "field required")


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  api_key: k\ntelegram:\n  bot_token: [unclosed\n  x: 1\n")
    error = config_error(path)
    assert error.key == "line 5"
    assert "expected ',' or ']'" in error.message
    error = config_error(write(tmp_path, "llm:\n  api_key: k\n\tbad: tab\n"))
    assert error.key == "line 3"


def test_the_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    error = config_error(write(tmp_path, "- llm\n- store\n"))
    assert "mapping" in error.message


def test_a_missing_file(tmp_path: Path) -> None:
    error = config_error(tmp_path / "nope.yml")
    assert error.message == "file not found"
    assert str(error) == f"{tmp_path / 'nope.yml'}: file not found"


def test_an_unknown_time_zone(tmp_path: Path) -> None:
    error = config_error(
        write(tmp_path, "llm:\n  api_key: k\ntools:\n  default_timezone: Mars/Base\n")
    )
    assert error.key == "tools.default_timezone"
    assert "unknown time zone 'Mars/Base'" in error.message
    error = config_error(
        write(tmp_path, "llm:\n  api_key: k\ntools:\n  default_timezone: ../../etc/passwd\n")
    )
    assert error.key == "tools.default_timezone"


def test_the_default_agent_must_be_listed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "llm:\n  api_key: k\nagents:\n  default: helper\n  list:\n    - name: assistant\n",
    )
    error = config_error(path)
    assert error.key == "agents"
    assert "default agent 'helper' is not in agents.list" in error.message

    path = write(
        tmp_path,
        "llm:\n  api_key: k\nagents:\n  list:\n    - name: assistant\n    - name: assistant\n",
    )
    assert "unique" in config_error(path).message


def test_the_repository_config_files_load() -> None:
    config = load_config(ROOT / "config.yml", env={"OPENAI_API_KEY": "sk-from-env"})
    assert config.llm.api_key.get_secret_value() == "sk-from-env"
    assert config.llm.base_url == "https://api.openai.com/v1"
    assert config.telegram.bot_token.get_secret_value() == ""
    assert config.telegram.allowed_user_ids == []
    assert config.store.type == "file"
    assert config.agents.default == "assistant"

    error = config_error(ROOT / "config.yml")
    assert error.key == "llm.api_key"
    assert "OPENAI_API_KEY" in error.message

    mcp = load_mcp_config(ROOT / "mcp.yml", env={})
    assert mcp.mcpServers == {}
    assert mcp.tools == {}


# -- the environment ----------------------------------------------------------------------


def test_environment_defaults() -> None:
    env = read_environment({})
    assert (env.config_path, env.mcp_config_path) == ("config.yml", "mcp.yml")
    assert (env.log_level, env.log_format) == ("INFO", "text")


def test_environment_values_are_normalised() -> None:
    env = read_environment(
        {
            "LOG_FORMAT": " JSON ",
            "LOG_LEVEL": "debug",
            "CONFIG_PATH": "/etc/bot.yml",
            "MCP_CONFIG_PATH": "/etc/mcp.yml",
        }
    )
    assert (env.log_format, env.log_level) == ("json", "DEBUG")
    assert (env.config_path, env.mcp_config_path) == ("/etc/bot.yml", "/etc/mcp.yml")
    assert read_environment({"LOG_FORMAT": "", "LOG_LEVEL": ""}).log_level == "INFO"


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOG_FORMAT", "xml"), ("LOG_FORMAT", "texts"), ("LOG_LEVEL", "verbose"), ("LOG_LEVEL", "5")],
)
def test_environment_errors_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_environment({name: value})
    assert caught.value.file == "environment"
    assert caught.value.key == name


def test_environment_is_read_from_the_process_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")
    assert read_environment().log_level == "WARNING"


def test_environment_keeps_every_variable_for_the_files_but_never_shows_them() -> None:
    env = read_environment({"OPENAI_API_KEY": "sk-secret", "LOG_LEVEL": "info"})
    assert env.variables["OPENAI_API_KEY"] == "sk-secret"
    assert env.log_level == "INFO"
    assert "sk-secret" not in repr(env) and "sk-secret" not in str(env)


def test_both_files_expand_from_the_environment_they_are_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One expansion for both files, from the snapshot passed in (never os.environ itself)."""
    monkeypatch.setenv("SHARED_TOKEN", "from-the-process")
    env = {"SHARED_TOKEN": "given", "EMPTY": ""}
    config = load_config(
        write(tmp_path, "llm:\n  api_key: ${SHARED_TOKEN}\n  model: ${EMPTY:-fallback}\n"), env
    )
    mcp = load_mcp_config(
        write(
            tmp_path,
            "mcpServers:\n  s:\n    url: http://127.0.0.1:9/mcp\n"
            "    headers: {A: '${SHARED_TOKEN}', B: '${EMPTY:-fallback}'}\n",
            name="mcp.yml",
        ),
        env,
    )
    headers = mcp.mcpServers["s"].headers
    assert config.llm.api_key.get_secret_value() == "given" == headers["A"]
    assert config.llm.model == "fallback" == headers["B"]
    with pytest.raises(ConfigError) as caught:
        load_mcp_config(tmp_path / "mcp.yml", {})
    assert caught.value.key == "mcpServers.s.headers.A"
    assert "SHARED_TOKEN is not set" in caught.value.message


# -- mcp.yml ------------------------------------------------------------------------------


def test_mcp_both_transports_parse(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mcpServers:\n"
        "  remote:\n"
        "    url: https://mcp.example.com/mcp\n"
        "    headers:\n"
        "      Authorization: Bearer ${MCP_TOKEN}\n"
        "    timeout: 5\n"
        "    tools:\n"
        "      include: ['search_*']\n"
        "      exclude: ['search_admin']\n"
        "  local:\n"
        "    command: npx\n"
        "    args: ['-y', '@modelcontextprotocol/server-everything']\n"
        "    env:\n"
        "      HOME: ${HOME:-/tmp}\n"
        "tools:\n"
        "  weather:\n"
        "    url: http://localhost:8000/weather\n"
        "    description: Weather for a city\n"
        "    parameters:\n"
        "      city: {type: string, description: City name}\n",
        name="mcp.yml",
    )
    config = load_mcp_config(path, env={"MCP_TOKEN": "tok"})
    remote, local = config.mcpServers["remote"], config.mcpServers["local"]
    assert remote.transport == "http"
    assert remote.headers == {"Authorization": "Bearer tok"}
    assert remote.timeout == 5
    assert (remote.tools.include, remote.tools.exclude) == (["search_*"], ["search_admin"])
    assert local.transport == "stdio"
    assert local.command == "npx"
    assert local.args == ["-y", "@modelcontextprotocol/server-everything"]
    assert local.env == {"HOME": "/tmp"}
    assert local.tools.include == ["*"]
    assert config.tools["weather"].parameters["city"].type == "string"


@pytest.mark.parametrize(
    "server",
    [
        "    url: http://localhost/mcp\n    command: npx\n",
        "    args: ['x']\n",
        "    url: ''\n",
    ],
)
def test_mcp_server_needs_exactly_one_transport(tmp_path: Path, server: str) -> None:
    path = write(tmp_path, "mcpServers:\n  files:\n" + server, name="mcp.yml")
    with pytest.raises(ConfigError) as caught:
        load_mcp_config(path, env={})
    assert caught.value.key == "mcpServers.files"
    assert "exactly one of url" in caught.value.message


def test_mcp_bad_server_name_and_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path, "mcpServers:\n  'bad name':\n    command: x\n", name="mcp.yml")
    with pytest.raises(ConfigError) as caught:
        load_mcp_config(path, env={})
    assert caught.value.key == "mcpServers.bad name"
    path = write(tmp_path, "mcpServers:\n  s:\n    command: x\n    cmd: y\n", name="mcp.yml")
    with pytest.raises(ConfigError) as caught:
        load_mcp_config(path, env={})
    assert (caught.value.key, caught.value.message) == ("mcpServers.s.cmd", "unknown key")


def test_mcp_missing_or_empty_file_means_no_servers(tmp_path: Path) -> None:
    for config in (
        load_mcp_config(tmp_path / "absent.yml", env={}),
        load_mcp_config(write(tmp_path, "", name="mcp.yml"), env={}),
        load_mcp_config(write(tmp_path, "mcpServers:\ntools:\n", name="mcp.yml"), env={}),
    ):
        assert config.mcpServers == {}
        assert config.tools == {}
