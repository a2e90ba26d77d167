from forecast.cli.app import app

app(prog_name="forecast")
