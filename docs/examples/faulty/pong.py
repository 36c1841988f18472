import erlen

PLUGIN = erlen.Plugin(name="pong", integrates_with=["ping"])
