"""`passbot dev`: the whole Slack flow on loopback, in a browser, with no Slack workspace.

A small stand-in for Slack (`standin.py`: its Web API and a page that plays the Slack client)
talks to the real Bolt app over real signed HTTP, exactly as Slack would. See `runner.py`.
"""
