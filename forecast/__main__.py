from forecast.cli import app

app(prog_name="forecast")
