"""The DynamoDB backend: one item per message, conditional writes, small records beside
them; the client, the item codec, the requests and the table."""
