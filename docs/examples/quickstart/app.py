import erlen

app = erlen.create_app(__name__, config="erlen.toml")


@app.route("/")
def index():
    return f"{app.config['GREETINGS_GREETING']}, world!"
