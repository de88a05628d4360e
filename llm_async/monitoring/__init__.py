"""Operations: the alarms that page, the topic they page, and the dashboard."""
