-- Reports aggregate over a period: sugar dating by role and time, notifications by day.
CREATE INDEX encounters_role_occurred ON encounters (role, occurred_at);
CREATE INDEX municipality_notifications_occurred ON municipality_notifications (occurred_on);
